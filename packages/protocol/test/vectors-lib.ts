/**
 * Builds the protocol test vectors (vectors/protocol-v1.json). The same function is used by
 * scripts/make-vectors.mjs (to write the file) and by vectors.test.ts (to check that the code still
 * produces exactly the committed bytes). Only fixed seeds and fixed times go in: the output is deterministic.
 *
 * Objects of this package (reports, entries, evidence, consensus messages, bundles, certificates) come
 * from its own encoders; tally leaves, the Merkle tree and proofs from @ecandle/tally (which depends on
 * nothing of ours). Sync frames are written here from the documented shapes with the canonical encoder,
 * because @ecandle/sync depends on this package; packages/sync/test checks its codecs against them.
 */
import {
  buildTree, EMPTY_ROOT, genesisState, leafHash, leafIndex, nodeHash, tally, toHex as tallyHex,
  type DeviceInfo as TallyDevice, type SegmentReport, type TallyResult
} from '@ecandle/tally'
import {
  decodeCanonical, decodeEntry, Domain, encode, encodeBundle, encodeCertificate, encodeConsensusPayload, encodeEvidence, encodeReportPayload, encodeValue,
  entryDomain, limits, MAX_BUNDLE_BYTES, MAX_BUNDLE_MESSAGES, MAX_CERTIFICATE_BYTES, MAX_CONSENSUS_BYTES, networkId, noGovernance, parseNetwork,
  protocols, quorumOf, sha256, signConsensus, signingBytes, topics, valueIdOf, verifyConsensus, verifyEntry, verifyReport, voteDomain,
  ProtocolError, type ConsensusPayload, type EpochValue, type UsageReport, type VerifiedEntry
} from '../src/index.js'
import {
  DEV_B, GENESIS, HUB_A, HUB_B, definition, entry, envelope, hex, net, rawBytes, rawMap, rawText, rawUint, report, seedOf, signed, signers
} from './fixtures.js'

export const VECTORS_FILE = 'protocol-v1.json'

/** The placeholder the name and domain templates use. */
const ID = '<network-id>'
const sha = (b: Uint8Array): string => hex(sha256(b))

// ---- reports and entries ----

function reportVector (name: string, r: UsageReport): Record<string, unknown> {
  const payload = encodeReportPayload(r)
  const bytes = signed(r)
  const d = verifyReport(net, bytes, net.devices.get(r.device)!.info.hub)
  return {
    name,
    report: r,
    payloadHex: hex(payload),
    signingBytesHex: hex(signingBytes(Domain.report, payload)),
    signatureHex: hex(d.signature),
    signedHex: hex(bytes),
    id: d.id
  }
}

function entryVector (name: string, bytes: Uint8Array, verifyAtMs: number): Record<string, unknown> {
  const e = verifyEntry(net, bytes, verifyAtMs)
  return {
    name,
    payload: {
      hub: e.payload.hub,
      seq: e.payload.seq,
      prev: e.payload.prev === null ? null : e.payload.prev.toString(),
      epoch: e.payload.epoch,
      time: e.payload.time,
      reportIds: e.reports.map(r => r.id)
    },
    bodyHex: hex(e.body),
    signingDomain: entryDomain(net.id),
    signingBytesHex: hex(signingBytes(entryDomain(net.id), e.body)),
    signatureHex: hex(e.signature),
    signedHex: hex(bytes),
    cid: e.id.toString(),
    verifyAtMs
  }
}

/** Entries that must fail, with the gossip action and this implementation's code. */
function invalidEntries (verifyAtMs: number): Array<Record<string, unknown>> {
  const t = (GENESIS + 400) * 1000
  const rA1 = signed({ counter: 1 })
  // Payload map with "seq" before "hub" (canonical order is hub, seq, prev, time, epoch, reports), validly signed.
  const unsorted = rawMap([
    [rawText('seq'), encode(1)], [rawText('hub'), encode(HUB_A)], [rawText('prev'), encode(null)],
    [rawText('time'), encode(t)], [rawText('epoch'), encode(0)], [rawText('reports'), encode([rA1])]
  ])
  // Report payload with counter 1 written as 0x18 0x01 (non-minimal), validly signed by device A.
  const r = report({ counter: 1 })
  const nonMinimal = rawMap([
    [rawText('c'), rawUint(1, 1)], [rawText('d'), encode(r.device)], [rawText('e'), encode(r.energyMwh)], [rawText('f'), encode(r.faults)],
    [rawText('l'), encode(r.litS)], [rawText('s'), encode(r.solarMwh)], [rawText('mv'), encode(r.batteryMv)], [rawText('t0'), encode(r.periodStart)],
    [rawText('t1'), encode(r.periodEnd)], [rawText('soc'), encode(r.soc)], [rawText('tmp'), encode(r.tempDeciC)]
  ])
  const otherNet = 'ffffffffffffffffffffffffffffffff'
  const cases: Array<[string, Uint8Array, 'REJECT' | 'IGNORE', string]> = [
    ['hub signature made for another network id', envelope(encode({ hub: HUB_A, seq: 1, prev: null, epoch: 0, time: t, reports: [rA1] }), signers.hubA, entryDomain(otherNet)), 'REJECT', 'entry-signature'],
    ['hub A entry signed by hub B key', entry({ time: t, signer: signers.hubB }), 'REJECT', 'entry-signature'],
    ['epoch stamp is not the epoch of time', entry({ time: t, epoch: 1 }), 'REJECT', 'entry-epoch'],
    ['entry payload keys not in canonical order (validly signed)', envelope(unsorted, signers.hubA, entryDomain(net.id)), 'REJECT', 'entry-non-canonical'],
    ['report payload with a non-minimal integer (validly signed)', entry({ time: t, reports: [envelope(nonMinimal, signers.deviceA, Domain.report)] }), 'REJECT', 'report-encoding'],
    ['report of a device registered to another hub', entry({ hub: HUB_B, time: t, reports: [rA1] }), 'REJECT', 'wrong-hub'],
    ['report signed by an unregistered key', entry({ time: t, reports: [signed({ counter: 1 }, signers.stranger)] }), 'REJECT', 'report-signature'],
    ['implausible energy (more than 2x the rating pro rata)', entry({ time: t, reports: [signed({ energyMwh: 3473 })] }), 'REJECT', 'implausible'],
    ['report ends more than 120 s after its entry', entry({ time: t, reports: [signed({ periodEnd: GENESIS + 521 })] }), 'REJECT', 'report-future'],
    ['two reports of one device out of counter order', entry({ time: t, reports: [signed({ counter: 2 }), signed({ counter: 1 })] }), 'REJECT', 'counter-order'],
    ['entry more than 30 s ahead of the verifier clock', entry({ time: verifyAtMs + 30_001 }), 'IGNORE', 'future']
  ]
  return cases.map(([name, bytes, action, code]) => ({ name, signedHex: hex(bytes), verifyAtMs, action, code }))
}

// ---- network definition ----

/** The vector definition with `validators[0].location` replaced: each must be refused with this error. */
function invalidLocations (): Array<Record<string, unknown>> {
  const cases: Array<[string, unknown]> = [
    ['float degrees (the form of earlier releases)', { lat: 52.52, lon: 13.405 }],
    ['integer degrees in the old keys (refused too: one form only)', { lat: 52, lon: 13 }],
    ['latE6 with a fraction', { latE6: 52_520_000.5, lonE6: 13_405_000 }],
    ['latE6 beyond 90 degrees', { latE6: 90_000_001, lonE6: 0 }],
    ['lonE6 missing', { latE6: 52_520_000 }],
    ['an extra field', { latE6: 52_520_000, lonE6: 13_405_000, alt: 34 }]
  ]
  return cases.map(([name, location]) => {
    const d: any = definition()
    d.validators[0].location = location
    let error = ''
    try {
      parseNetwork(JSON.stringify(d))
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err
      error = err.message
    }
    if (error === '') throw new Error(`vectors: location ${name} was accepted`)
    return { name, path: 'validators[0].location', location, code: 'network', error }
  })
}

// ---- agreement: values, consensus messages, bundles, certificates ----

interface Agreement {
  value: EpochValue
  section: Record<string, unknown>
  certificate: Uint8Array
  /** The Merkle tree of the certified tally. */
  tally: TallyResult
  /** Signed messages by name. */
  messages: Map<string, Uint8Array>
}

const valueJson = (v: EpochValue): Record<string, unknown> => ({
  epoch: v.epoch, prev: v.prev, cut: v.cut.map(c => ({ hub: c.hub, seq: c.seq, id: c.id === null ? null : c.id.toString() })), root: v.root, gov: v.gov, state: v.state, next: v.next
})

function payloadJson (p: ConsensusPayload): Record<string, unknown> {
  const m: Record<string, unknown> = { t: p.type, e: p.epoch, r: p.round, from: p.from, v: p.valueId }
  if (p.type === 'proposal') { m.val = valueJson(p.value!); m.vr = p.validRound! + 1 }
  return m
}

/** The tally of epoch 0: the reports of hub A #1 and hub B #1 (the segment up to the cut). */
function tallyEpoch0 (segmentEntries: VerifiedEntry[]): TallyResult {
  const devices = new Map<string, TallyDevice>()
  for (const [id, d] of net.devices) devices.set(id, { id, hub: d.info.hub, capex: d.info.capex, opex: d.info.opex, ratedWhPerDay: d.info.ratedWhPerDay })
  const segment: SegmentReport[] = segmentEntries.flatMap(e => e.reports.map((d, index) => ({
    hub: e.payload.hub, seq: e.payload.seq, index, reportId: d.id, device: d.report.device, counter: d.report.counter,
    periodStart: d.report.periodStart, periodEnd: d.report.periodEnd, energyMwh: d.report.energyMwh, solarMwh: d.report.solarMwh, litS: d.report.litS
  })))
  return tally({
    epoch: 0,
    params: { emissionPerEpoch: BigInt(net.def.emissionPerEpoch), capexBps: net.def.capexBps, deviceCapMwhPerEpoch: BigInt(net.def.deviceCapMwhPerEpoch) },
    devices,
    segment,
    prev: genesisState(),
    equivocated: new Set()
  })
}

function agreement (e1: VerifiedEntry, eB1: VerifiedEntry): Agreement {
  const result = tallyEpoch0([e1, eB1])
  // No governance decided on this network: no resolutions, and the genesis state hash before and after (docs/governance.md §6).
  const none = noGovernance(net)
  const value: EpochValue = { epoch: 0, prev: null, cut: [{ hub: HUB_A, seq: 1, id: e1.id }, { hub: HUB_B, seq: 1, id: eB1.id }], root: result.root, ...none }
  const valueId = valueIdOf(value)
  // Epoch 1 extends epoch 0; hub B has nothing new, hub A's log is at #2 (stamped epoch 1).
  const value1: EpochValue = { epoch: 1, prev: valueId, cut: [{ hub: HUB_A, seq: 1, id: e1.id }, { hub: HUB_B, seq: 1, id: eB1.id }], root: EMPTY_ROOT, ...none }
  const empty: EpochValue = { epoch: 0, prev: null, cut: [{ hub: HUB_A, seq: 0, id: null }, { hub: HUB_B, seq: 0, id: null }], root: EMPTY_ROOT, ...none }

  const signerOf = (from: string): typeof signers.hubA => from === HUB_A ? signers.hubA : signers.hubB
  const defs: Array<[string, ConsensusPayload]> = [
    ['proposal, epoch 0 round 0, by hub A (the proposer: validators[(0 + 0) mod 2])', { type: 'proposal', epoch: 0, round: 0, from: HUB_A, valueId, value, validRound: -1 }],
    ['prevote, hub A', { type: 'prevote', epoch: 0, round: 0, from: HUB_A, valueId }],
    ['prevote, hub B', { type: 'prevote', epoch: 0, round: 0, from: HUB_B, valueId }],
    ['precommit, hub A', { type: 'precommit', epoch: 0, round: 0, from: HUB_A, valueId }],
    ['precommit, hub B', { type: 'precommit', epoch: 0, round: 0, from: HUB_B, valueId }],
    ['nil prevote, hub A, same epoch and round (equivocating twin of "prevote, hub A")', { type: 'prevote', epoch: 0, round: 0, from: HUB_A, valueId: null }],
    ['proposal, epoch 0 round 1, by hub B, re-proposing a value locked in round 0', { type: 'proposal', epoch: 0, round: 1, from: HUB_B, valueId, value, validRound: 0 }]
  ]
  const messages = new Map<string, Uint8Array>()
  const messageVectors = defs.map(([name, p]) => {
    const bytes = signConsensus(net, signerOf(p.from), p)
    const m = verifyConsensus(net, bytes)
    messages.set(name, bytes)
    return {
      name,
      payload: payloadJson(p),
      payloadHex: hex(m.body),
      signingDomain: voteDomain(net.id),
      signingBytesHex: hex(signingBytes(voteDomain(net.id), m.body)),
      signatureHex: hex(m.signature),
      signedHex: hex(bytes)
    }
  })
  const msg = (name: string): Uint8Array => messages.get(name)!
  const sigOf = (name: string): Uint8Array => verifyConsensus(net, msg(name)).signature

  // Invalid consensus messages: [name, bytes, code].
  const precommitA: ConsensusPayload = { type: 'precommit', epoch: 0, round: 0, from: HUB_A, valueId }
  const bodyA = encodeConsensusPayload(precommitA)
  const strangerId = 'fffffffffffffffffffffffffffffff0'
  const invalidMessages: Array<[string, Uint8Array, string]> = [
    ['signed under "ecandle/vote/1" without the network id', envelope(bodyA, signers.hubA, Domain.vote), 'vote-signature'],
    ['signed for another network id', envelope(bodyA, signers.hubA, voteDomain(strangerId)), 'vote-signature'],
    ['hub A\'s vote signed with hub B\'s key', envelope(bodyA, signers.hubB, voteDomain(net.id)), 'vote-signature'],
    ['from a peer that is not a validator', envelope(encodeConsensusPayload({ ...precommitA, from: '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo' }), signers.stranger, voteDomain(net.id)), 'unknown-validator'],
    ['proposal whose v is not the id of its val', envelope(encode({ t: 'proposal', e: 0, r: 0, from: HUB_A, v: valueIdOf(empty), val: encodeValueMap(value), vr: 0 }), signers.hubA, voteDomain(net.id)), 'shape'],
    ['vote with an extra field', envelope(encode({ t: 'precommit', e: 0, r: 0, from: HUB_A, v: valueId, x: 1 }), signers.hubA, voteDomain(net.id)), 'shape'],
    ['value id in upper-case hex', envelope(encode({ t: 'precommit', e: 0, r: 0, from: HUB_A, v: valueId.toUpperCase() }), signers.hubA, voteDomain(net.id)), 'shape'],
    ['payload keys not in canonical order (validly signed)', envelope(rawMap([
      [rawText('t'), encode('precommit')], [rawText('e'), encode(0)], [rawText('r'), encode(0)], [rawText('v'), encode(valueId)], [rawText('from'), encode(HUB_A)]
    ]), signers.hubA, voteDomain(net.id)), 'non-canonical']
  ]

  // Bundles: the gossip payload of the consensus topic.
  const at = (GENESIS + 3900) * 1000 + 7
  const bundleDefs: Array<[string, string[]]> = [
    ['hub A\'s messages of round 0', ['proposal, epoch 0 round 0, by hub A (the proposer: validators[(0 + 0) mod 2])', 'prevote, hub A', 'precommit, hub A']],
    ['hub B\'s precommit alone', ['precommit, hub B']]
  ]
  const bundles = bundleDefs.map(([name, names]) => {
    const bytes = encodeBundle({ at, msgs: names.map(msg) })
    return { name, at, msgs: names, bytesHex: hex(bytes) }
  })
  const good = msg('prevote, hub B')
  const bad = envelope(bodyA, signers.hubB, voteDomain(net.id))
  const mixed = encodeBundle({ at, msgs: [bad, good] })
  const invalidBundles: Array<[string, Uint8Array, string]> = [
    ['msgs holding embedded maps instead of byte strings', encode({ at, msgs: [{ p: verifyConsensus(net, good).body, s: verifyConsensus(net, good).signature }] }), 'bundle-shape'],
    ['no messages', encode({ at, msgs: [] }), 'bundle-shape'],
    [`${MAX_BUNDLE_MESSAGES + 1} messages`, encode({ at, msgs: Array.from({ length: MAX_BUNDLE_MESSAGES + 1 }, () => good) }), 'bundle-shape'],
    ['at as a negative number', encode({ at: -1, msgs: [good] }), 'bundle-shape'],
    ['keys not in canonical order', rawMap([[rawText('msgs'), encode([good])], [rawText('at'), encode(at)]]), 'bundle-non-canonical'],
    ['not DAG-CBOR', Uint8Array.of(0xa2, 0x62), 'bundle-encoding'],
    ['every message invalid (hub A\'s vote signed by hub B)', encodeBundle({ at, msgs: [bad] }), 'no-valid-message']
  ]

  // Certificates: canonical form first, then variants.
  const sigs: Array<[number, Uint8Array]> = [[0, sigOf('precommit, hub A')], [1, sigOf('precommit, hub B')]]
  const certificate = encodeCertificate(net, { value, round: 0, signatures: [sigs[1], sigs[0]] })
  const flipped = Uint8Array.from(sigs[1][1]); flipped[0] ^= 1
  const certRaw = (s: Array<[number, Uint8Array]>, v: EpochValue = value, round = 0): Uint8Array => encode({ value: encodeValueMap(v), round, sigs: s })
  const invalidCertificates: Array<[string, Uint8Array, string]> = [
    ['one signature of two validators (quorum is 2)', certRaw([sigs[0]]), 'too-few-signers'],
    ['hub A counted twice', certRaw([sigs[0], sigs[0]]), 'duplicate-signer'],
    ['hub B\'s signature altered', certRaw([sigs[0], [1, flipped]]), 'certificate-signature'],
    ['round changed (the precommits were for round 0)', certRaw(sigs, value, 1), 'certificate-signature'],
    ['value changed (root of another tally)', certRaw(sigs, { ...value, root: EMPTY_ROOT }), 'certificate-signature'],
    ['cut not in validator order', certRaw(sigs, { ...value, cut: [value.cut[1], value.cut[0]] }), 'shape'],
    ['cut id as a CID string instead of a tag-42 link', encode({ value: { ...encodeValueMap(value) as object, cut: value.cut.map(c => ({ hub: c.hub, seq: c.seq, id: c.id?.toString() ?? null })) }, round: 0, sigs }), 'shape'],
    ['root as 32 bytes instead of hex text', encode({ value: { ...encodeValueMap(value) as object, root: Buffer.from(value.root, 'hex') }, round: 0, sigs }), 'shape'],
    ['signature index beyond the validators', certRaw([sigs[0], [2, sigs[1][1]]]), 'shape']
  ]
  const reordered = certRaw([sigs[1], sigs[0]])

  const section = {
    about: 'Epoch 0 of the vector network, decided in round 0 by both validators (n = 2, quorum 2). Its segment is hub A #1 and hub B #1; its root is the tally below (tally.root).',
    limits: { maxConsensusBytes: MAX_CONSENSUS_BYTES, maxBundleBytes: MAX_BUNDLE_BYTES, maxBundleMessages: MAX_BUNDLE_MESSAGES, maxCertificateBytes: MAX_CERTIFICATE_BYTES },
    quorum: Object.fromEntries([1, 2, 3, 4, 5, 6, 7, 10, 100, 256].map(n => [n, quorumOf(n)])),
    values: [
      { name: 'epoch 0, decided', value: valueJson(value), bytesHex: hex(encodeValue(value)), id: valueId },
      { name: 'epoch 1 extending epoch 0 (an encoding example: no log moved, and the root is a placeholder, not a tally)', value: valueJson(value1), bytesHex: hex(encodeValue(value1)), id: valueIdOf(value1) },
      { name: 'epoch 0 with empty logs (seq 0, id null)', value: valueJson(empty), bytesHex: hex(encodeValue(empty)), id: valueIdOf(empty) }
    ],
    messages: messageVectors,
    invalidMessages: invalidMessages.map(([name, bytes, code]) => ({ name, signedHex: hex(bytes), action: 'REJECT', code })),
    bundles: [
      ...bundles,
      { name: 'one invalid message beside a valid one: accepted, the invalid one dropped', at, msgs: ['(hub A\'s precommit signed by hub B)', 'prevote, hub B'], bytesHex: hex(mixed), validMsgs: 1 }
    ],
    invalidBundles: invalidBundles.map(([name, bytes, code]) => ({ name, bytesHex: hex(bytes), action: 'REJECT', code })),
    certificates: [{
      name: 'epoch 0, canonical: exactly a quorum of signatures, ascending validator index',
      value: valueJson(value),
      round: 0,
      sigs: sigs.map(([i, s]) => [i, hex(s)]),
      bytesHex: hex(certificate),
      valueId,
      signers: [HUB_A, HUB_B]
    }],
    acceptedNonCanonicalCertificates: [{
      name: 'the same signatures in descending index order: valid, but not what a hub sends or keeps',
      bytesHex: hex(reordered),
      canonicalHex: hex(certificate)
    }],
    invalidCertificates: invalidCertificates.map(([name, bytes, code]) => ({ name, bytesHex: hex(bytes), action: 'REJECT', code }))
  }
  messages.set('(certificate)', certificate)
  return { value, section, certificate, tally: result, messages }
}

/** An EpochValue as the plain map that is encoded (cut ids stay CID links). */
function encodeValueMap (v: EpochValue): unknown {
  return { epoch: v.epoch, prev: v.prev, cut: v.cut.map(c => ({ hub: c.hub, seq: c.seq, id: c.id })), root: v.root, gov: v.gov, state: v.state, next: v.next }
}

// ---- tally: leaves, Merkle tree, proofs ----

function tallySection (result: TallyResult, certificateRoot: string): Record<string, unknown> {
  const tree = buildTree(result)
  const leaves = tree.leaves.map(b => ({ bytes: b, leaf: decodeLeafJson(b) }))
  // Every level of the tree, bottom up (a lone node at the end of a level moves up unchanged).
  const levels: Uint8Array[][] = [tree.leaves.map(leafHash)]
  while (levels[levels.length - 1].length > 1) {
    const l = levels[levels.length - 1]
    const up: Uint8Array[] = []
    for (let i = 0; i < l.length; i += 2) up.push(i + 1 < l.length ? nodeHash(l[i], l[i + 1]) : l[i])
    levels.push(up)
  }
  if (tallyHex(levels[levels.length - 1][0]) !== result.root || result.root !== certificateRoot) throw new Error('vectors: tree levels do not give the root')
  const capexAccount = net.def.devices[0].capex
  const account = leafIndex(result, 'a', capexAccount)!
  const changed = Uint8Array.from(tree.leaves[account])
  // The last byte of the account leaf is a digit of `cumulative`: one more unit no longer matches the root.
  changed[changed.length - 1] += 1
  const proof = tree.proof(account)
  return {
    about: 'The tally of epoch 0 (rewards.md; packages/tally/README.md): the certificate of consensus.certificates[0] certifies its root.',
    epoch: 0,
    input: {
      params: { emissionPerEpoch: net.def.emissionPerEpoch, capexBps: net.def.capexBps, deviceCapMwhPerEpoch: net.def.deviceCapMwhPerEpoch },
      prevDust: '0',
      segment: result.statuses.map(s => ({ hub: s.hub, seq: s.seq, index: s.index, reportId: s.reportId, status: s.reason ?? s.status, countedMwh: s.countedMwh }))
    },
    totals: Object.fromEntries(Object.entries(result.totals).map(([k, v]) => [k, String(v)])),
    merkle: {
      leafHash: 'sha256(00 ‖ leaf bytes)',
      nodeHash: 'sha256(01 ‖ left ‖ right)',
      leafPrefixHex: '00',
      nodePrefixHex: '01',
      order: 'leaves sorted bytewise by their canonical bytes',
      oddNode: 'a lone node at the end of a level moves up unchanged (never duplicated or hashed alone)',
      emptyRootHex: EMPTY_ROOT
    },
    leaves: leaves.map((l, i) => ({ kind: { a: 'account', d: 'device', s: 'summary' }[l.leaf.k as 'a' | 'd' | 's'], leaf: l.leaf, bytesHex: hex(l.bytes), hashHex: tallyHex(levels[0][i]) })),
    levels: levels.map(l => l.map(tallyHex)),
    root: result.root,
    proofs: tree.leaves.map((_, i) => ({ leafIndex: i, path: tree.proof(i) })),
    invalidLeaves: [
      { name: 'amount as a CBOR integer instead of decimal text', bytesHex: hex(encode({ k: 'a', account: capexAccount, epoch: 0, amount: 1, cumulative: '1' })) },
      { name: 'amount with a leading zero', bytesHex: hex(encode({ k: 'a', account: capexAccount, epoch: 0, amount: '01', cumulative: '1' })) },
      { name: 'an extra field', bytesHex: hex(encode({ k: 's', epoch: 0, mwh: '0', paid: '0', dust: '0', emission: '0', x: '0' })) },
      { name: 'keys not in canonical order', bytesHex: hex(rawMap([[rawText('epoch'), encode(0)], [rawText('k'), rawText('s')], [rawText('mwh'), rawText('0')], [rawText('dust'), rawText('0')], [rawText('paid'), rawText('0')], [rawText('emission'), rawText('0')]])) },
      { name: 'unknown kind', bytesHex: hex(encode({ k: 'x', epoch: 0 })) }
    ],
    invalidProofs: [
      { name: 'the capex account leaf with cumulative one unit higher', leafHex: hex(changed), path: proof, root: result.root },
      { name: 'the capex account proof with the first step on the wrong side', leafHex: hex(tree.leaves[account]), path: proof.map((s, i) => i === 0 ? { ...s, side: s.side === 'left' ? 'right' : 'left' } : s), root: result.root },
      { name: 'the capex account proof with its last step dropped', leafHex: hex(tree.leaves[account]), path: proof.slice(0, -1), root: result.root }
    ]
  }
}

/** A leaf as JSON (amounts stay decimal strings, as on the wire). */
function decodeLeafJson (bytes: Uint8Array): Record<string, unknown> {
  return decodeCanonical<Record<string, unknown>>(bytes, 'leaf')
}

// ---- sync frames ----

/** Unsigned LEB128 varint, the length prefix of every frame. */
function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
  out.push(n)
  return Uint8Array.from(out)
}
const frame = (b: Uint8Array): string => hex(varint(b.byteLength)) + hex(b)

function syncSection (entries: VerifiedEntry[], a: Agreement): Record<string, unknown> {
  const [e1, e2, , eB1] = entries
  // Heads: a hub holding hub A #1..#2 and hub B #1, listed sorted by hub (bytewise).
  const heads = [{ hub: HUB_A, seq: 2, id: e2.id }, { hub: HUB_B, seq: 1, id: eB1.id }]
    .sort((x, y) => Buffer.compare(Buffer.from(x.hub), Buffer.from(y.hub)))
  const headsBytes = encode({ heads })
  const tree = buildTree(a.tally)
  const capex = net.def.devices[0].capex
  const i = leafIndex(a.tally, 'a', capex)!
  const proofBytes = encode({ leaf: tree.leaves[i], path: tree.proof(i).map(s => [s.side === 'left' ? 0 : 1, Buffer.from(s.hash, 'hex')]) })
  const noLeaf = encode({ leaf: null, path: [] })
  const leavesBytes = encode({ leaves: tree.leaves })
  const ask = (o: unknown): string => hex(encode(o))
  const maxTallyRequest = encode({ epoch: Number.MAX_SAFE_INTEGER, account: 'f'.repeat(64) }).byteLength
  return {
    about: 'Request/response frames of the sync protocols (docs/protocol.md §8, docs/consensus.md §3, docs/audit.md), served by a hub that holds the entries and the epoch-0 certificate of these vectors.',
    framing: {
      lengthPrefix: 'unsigned LEB128 varint of the byte length, then the bytes',
      examples: [
        { name: 'the heads request', bytesHex: hex(encode({})), frameHex: frame(encode({})) },
        { name: 'entry hub A #1 (a two-byte length)', bytesHex: hex(e1.bytes), frameHex: frame(e1.bytes) }
      ]
    },
    limits: {
      heads: { maxRequestBytes: limits.maxRequestBytes, maxResponseBytes: 64 * 1024, maxFrames: 1, timeoutMs: 10_000, maxInboundStreams: 16 },
      entries: { maxRequestBytes: limits.maxRequestBytes, maxResponseBytes: limits.maxEntryBytes, maxFrames: limits.maxEntriesPerRequest, timeoutMs: 10_000, maxInboundStreams: 16 },
      certificates: { maxRequestBytes: 256, maxResponseBytes: MAX_CERTIFICATE_BYTES, maxFrames: 64, timeoutMs: 10_000, maxInboundStreams: 8 },
      tally: { maxRequestBytes: maxTallyRequest, maxResponseBytes: 512 * (512 + 4) + 64, leavesPerFrame: 512, maxLeafBytes: 512, maxPathSteps: 64, timeoutMs: 30_000, maxInboundStreams: 4 }
    },
    heads: {
      protocol: protocols.heads(net.id),
      request: { value: {}, bytesHex: hex(encode({})) },
      response: { value: { heads: heads.map(h => ({ hub: h.hub, seq: h.seq, id: h.id.toString() })) }, bytesHex: hex(headsBytes) }
    },
    entries: {
      protocol: protocols.entries(net.id),
      exchanges: [
        { name: 'hub A from seq 1, two entries', request: { hub: HUB_A, from: 1, limit: 2 }, requestHex: ask({ hub: HUB_A, from: 1, limit: 2 }), responseHex: [hex(e1.bytes), hex(e2.bytes)] },
        { name: 'hub A from seq 2, ten asked, one held', request: { hub: HUB_A, from: 2, limit: 10 }, requestHex: ask({ hub: HUB_A, from: 2, limit: 10 }), responseHex: [hex(e2.bytes)] },
        { name: 'from 0 is read as from 1', request: { hub: HUB_B, from: 0, limit: 64 }, requestHex: ask({ hub: HUB_B, from: 0, limit: 64 }), responseHex: [hex(eB1.bytes)] },
        { name: 'limit 0: no frame, and the stream ends normally', request: { hub: HUB_A, from: 1, limit: 0 }, requestHex: ask({ hub: HUB_A, from: 1, limit: 0 }), responseHex: [] },
        { name: 'beyond the head: no frame', request: { hub: HUB_A, from: 3, limit: 64 }, requestHex: ask({ hub: HUB_A, from: 3, limit: 64 }), responseHex: [] },
        { name: 'a hub with no log here: no frame', request: { hub: 'nobody', from: 1, limit: 64 }, requestHex: ask({ hub: 'nobody', from: 1, limit: 64 }), responseHex: [] }
      ],
      note: `a limit above ${limits.maxEntriesPerRequest} is served as ${limits.maxEntriesPerRequest}`
    },
    certificates: {
      protocol: protocols.certificates(net.id),
      exchanges: [
        { name: 'from epoch 0', request: { from: 0, limit: 64 }, requestHex: ask({ from: 0, limit: 64 }), responseHex: [hex(a.certificate)] },
        { name: 'from an epoch not decided here: no frame', request: { from: 1, limit: 64 }, requestHex: ask({ from: 1, limit: 64 }), responseHex: [] }
      ],
      gossip: { topic: topics.certificates(net.id), payload: 'the certificate bytes exactly as served here (no wrapper)', dataHex: hex(a.certificate) }
    },
    tally: {
      protocol: protocols.tally(net.id),
      exchanges: [
        { name: 'the capex account\'s leaf and path', request: { epoch: 0, account: capex }, requestHex: ask({ epoch: 0, account: capex }), responseHex: [hex(proofBytes)] },
        { name: 'an account with no leaf (never earned)', request: { epoch: 0, account: net.def.validators[0].operator }, requestHex: ask({ epoch: 0, account: net.def.validators[0].operator }), responseHex: [hex(noLeaf)] },
        { name: 'every leaf of the epoch', request: { epoch: 0, account: null }, requestHex: ask({ epoch: 0, account: null }), responseHex: [hex(leavesBytes)] },
        { name: 'an epoch not decided here: no frame', request: { epoch: 1, account: null }, requestHex: ask({ epoch: 1, account: null }), responseHex: [] }
      ]
    },
    invalidRequests: [
      ['heads', 'not DAG-CBOR', Uint8Array.of(0xff)],
      ['heads', 'a map with a field', encode({ all: true })],
      ['heads', 'the empty map written with an indefinite length (not canonical)', Uint8Array.of(0xbf, 0xff)],
      ['heads', 'an empty array', encode([])],
      ['entries', 'hub as a number', encode({ hub: 42, from: 1, limit: 1 })],
      ['entries', 'negative from', encode({ hub: HUB_A, from: -1, limit: 1 })],
      ['entries', 'an extra field', encode({ hub: HUB_A, from: 1, limit: 1, x: 1 })],
      ['entries', 'limit missing', encode({ hub: HUB_A, from: 1 })],
      ['certificates', 'limit as text', encode({ from: 0, limit: 'all' })],
      ['tally', 'account in upper-case hex', encode({ epoch: 0, account: capex.toUpperCase() })],
      ['tally', 'account missing', encode({ epoch: 0 })]
    ].map(([p, name, bytes]) => ({ protocol: p, name, requestHex: hex(bytes as Uint8Array), outcome: 'reset' }))
      .concat([{ protocol: 'heads', name: `a frame of ${limits.maxRequestBytes + 1} bytes (over the request limit)`, requestHex: '00'.repeat(limits.maxRequestBytes + 1), outcome: 'reset' }])
  }
}

// ---- everything ----

export function buildVectors (): Record<string, unknown> {
  const def = definition()
  const { bootstrap: _b, ...rules } = def

  // Reports: device A counters 1..3, device B counter 7 (two versions: an equivocation).
  const rA1 = report({ counter: 1 })
  const rA2 = report({ counter: 2, periodStart: GENESIS + 3300, periodEnd: GENESIS + 3600, energyMwh: 1500, solarMwh: 0, litS: 300, batteryMv: 3650, soc: 80, tempDeciC: 215, faults: 0 })
  const rA3 = report({ counter: 3, periodStart: GENESIS + 3600, periodEnd: GENESIS + 3605, energyMwh: 0, solarMwh: 70000, litS: 0, batteryMv: 4150, soc: 100, tempDeciC: 0, faults: 0x80000001 })
  const rB7 = report({ device: DEV_B, counter: 7, periodStart: GENESIS + 100, periodEnd: GENESIS + 400, energyMwh: 800, solarMwh: 10, litS: 300, batteryMv: 3500, soc: 40, tempDeciC: -1000, faults: 2 })
  const rB7x = { ...rB7, energyMwh: 801 }

  const t1 = (GENESIS + 400) * 1000 + 123
  const e1 = entry({ seq: 1, time: t1, reports: [signed(rA1)] })
  const id1 = decodeEntry(e1).id
  const t2 = (GENESIS + 3610) * 1000
  const e2 = entry({ seq: 2, prev: id1, time: t2, reports: [signed(rA2), signed(rA3)] })
  // A second, different entry #2 of hub A: with e2 it is evidence of equivocation.
  const e2x = entry({ seq: 2, prev: id1, time: t2, reports: [signed(rA2)] })
  const eB1 = entry({ hub: HUB_B, seq: 1, time: (GENESIS + 500) * 1000, reports: [signed(rB7)] })
  const verifyAt = (GENESIS + 2 * 3600) * 1000
  const verified = [e1, e2, e2x, eB1].map(b => verifyEntry(net, b, verifyAt))

  const ag = agreement(verified[0], verified[3])
  const prevoteA = ag.messages.get('prevote, hub A')!
  const nilPrevoteA = ag.messages.get('nil prevote, hub A, same epoch and round (equivocating twin of "prevote, hub A")')!

  const evEntry = encodeEvidence('entry', e2, e2x)
  const evReport = encodeEvidence('report', signed(rB7), signed(rB7x))
  const evVote = encodeEvidence('vote', prevoteA, nilPrevoteA)
  const [lo, hi] = Buffer.compare(e2, e2x) < 0 ? [e2, e2x] : [e2x, e2]

  return {
    version: 1,
    about: 'eCandle Mesh protocol test vectors; see README.md in this folder. Generated by scripts/make-vectors.mjs; checked by packages/protocol/test/vectors.test.ts (and the tally and sync sections by the tests of those packages).',
    keys: Object.fromEntries((['hubA', 'hubB', 'operatorA', 'operatorB', 'deviceA', 'deviceB', 'capex', 'opex'] as const).map(k => [k, {
      seedHex: hex(new Uint8Array(32).fill(seedOf[k])),
      publicKeyHex: hex(signers[k].publicKey),
      ...(k === 'hubA' ? { peerId: HUB_A } : k === 'hubB' ? { peerId: HUB_B } : {})
    }])),
    domains: {
      report: Domain.report,
      entry: entryDomain(ID),
      vote: voteDomain(ID),
      entryForThisNetwork: entryDomain(net.id),
      voteForThisNetwork: voteDomain(net.id)
    },
    limits,
    network: {
      definition: def,
      idInputCborHex: hex(encode(JSON.parse(JSON.stringify(rules)))),
      id: net.id,
      idCheck: networkId(def),
      invalidLocations: invalidLocations()
    },
    names: {
      templates: {
        topics: { entries: topics.entries(ID), evidence: topics.evidence(ID), consensus: topics.consensus(ID), certificates: topics.certificates(ID), governance: topics.governance(ID) },
        protocols: { heads: protocols.heads(ID), entries: protocols.entries(ID), certificates: protocols.certificates(ID), governance: protocols.governance(ID), tally: protocols.tally(ID), dht: `${protocols.dhtPrefix(ID)}/kad/1.0.0` }
      },
      topics: { entries: topics.entries(net.id), evidence: topics.evidence(net.id), consensus: topics.consensus(net.id), certificates: topics.certificates(net.id), governance: topics.governance(net.id) },
      protocols: { heads: protocols.heads(net.id), entries: protocols.entries(net.id), certificates: protocols.certificates(net.id), governance: protocols.governance(net.id), tally: protocols.tally(net.id), dhtPrefix: protocols.dhtPrefix(net.id), dht: `${protocols.dhtPrefix(net.id)}/kad/1.0.0` }
    },
    gossip: {
      version: 'gossipsub v1.1 (a hub speaks /meshsub/1.2.0, /meshsub/1.1.0, /meshsub/1.0.0 and /floodsub/1.0.0)',
      maxRpcBytes: 1024 * 1024,
      signaturePolicy: 'StrictNoSign: a message carries no from, seqno, signature or key; one with a from, seqno or signature is rejected',
      messageId: 'the raw 32-byte sha256 digest of the message data (not a multihash, no topic, no sender)',
      messageIds: [
        { name: 'entry hub A #1 on the entries topic', topic: topics.entries(net.id), dataHex: hex(e1), messageIdHex: sha(e1) },
        { name: 'the epoch 0 certificate on the certificates topic', topic: topics.certificates(net.id), dataHex: hex(ag.certificate), messageIdHex: sha(ag.certificate) }
      ]
    },
    reports: [
      reportVector('device A #1', rA1),
      reportVector('device A #2', rA2),
      reportVector('device A #3', rA3),
      reportVector('device B #7', rB7),
      reportVector('device B #7 (equivocating twin)', rB7x)
    ],
    entries: [
      entryVector('hub A #1', e1, verifyAt),
      entryVector('hub A #2', e2, verifyAt),
      entryVector('hub A #2 (equivocating twin)', e2x, verifyAt),
      entryVector('hub B #1', eB1, verifyAt)
    ],
    evidence: [
      { name: 'hub A signed two entries #2', kind: 'entry', offender: HUB_A, slot: 2, bytesHex: hex(evEntry), id: sha(evEntry) },
      { name: 'device B signed two reports #7', kind: 'report', offender: DEV_B, slot: 7, bytesHex: hex(evReport), id: sha(evReport) },
      { name: 'hub A prevoted twice in epoch 0 round 0 (for the value and nil)', kind: 'vote', offender: HUB_A, slot: 0, bytesHex: hex(evVote), id: sha(evVote) }
    ],
    invalidEntries: invalidEntries(verifyAt),
    invalidEvidence: [
      { name: 'halves not in byte order', signedHex: hex(encode({ k: 'entry', a: hi, b: lo })), action: 'REJECT', code: 'evidence-order' },
      { name: 'both halves the same entry', signedHex: hex(encode({ k: 'entry', a: lo, b: lo })), action: 'REJECT', code: 'evidence-order' },
      { name: 'entries of two different seqs (hub A #1 and #2)', signedHex: hex(encodeEvidence('entry', e1, e2)), action: 'REJECT', code: 'evidence-slot' },
      { name: 'votes of two different steps (prevote and precommit)', signedHex: hex(encodeEvidence('vote', prevoteA, ag.messages.get('precommit, hub A')!)), action: 'REJECT', code: 'evidence-slot' },
      { name: 'unknown kind', signedHex: hex(encode({ k: 'vibes', a: lo, b: hi })), action: 'REJECT', code: 'evidence-kind' },
      { name: 'a half signed with the wrong key', signedHex: hex(encodeEvidence('entry', e2, entry({ seq: 2, prev: id1, time: t2, reports: [signed(rA2)], signer: signers.hubB }))), action: 'REJECT', code: 'entry-signature' },
      { name: 'keys not in canonical order', signedHex: hex(rawMap([[rawText('k'), rawText('entry')], [rawText('a'), rawBytes(lo)], [rawText('b'), rawBytes(hi)]])), action: 'REJECT', code: 'non-canonical' }
    ],
    consensus: ag.section,
    tally: tallySection(ag.tally, ag.value.root),
    sync: syncSection(verified, ag)
  }
}
