/**
 * Builds the protocol test vectors (vectors/protocol-v1.json). The same function is used by
 * scripts/make-vectors.mjs (to write the file) and by vectors.test.ts (to check that the code still
 * produces exactly the committed bytes). Only fixed seeds and fixed times go in: the output is deterministic.
 */
import {
  Domain, encode, encodeEvidence, encodeReportPayload, entryDomain, limits, networkId, protocols,
  sha256, signingBytes, topics, verifyEntry, verifyReport, decodeEntry,
  type UsageReport
} from '../src/index.js'
import {
  DEV_B, GENESIS, HUB_A, HUB_B, definition, entry, envelope, hex, net, rawMap, rawText, rawUint, report, seedOf, signed, signers
} from './fixtures.js'

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
    ['hub signature made for another network id', envelope(encode({ ...entryPayloadAt(t, [rA1]) }), signers.hubA, entryDomain(otherNet)), 'REJECT', 'entry-signature'],
    ['hub A entry signed by hub B key', entry({ time: t, signer: signers.hubB }), 'REJECT', 'entry-signature'],
    ['epoch stamp is not the epoch of time', entry({ time: t, epoch: 1 }), 'REJECT', 'entry-epoch'],
    ['entry payload keys not in canonical order (validly signed)', envelope(unsorted, signers.hubA, entryDomain(net.id)), 'REJECT', 'entry-non-canonical'],
    ['report payload with a non-minimal integer (validly signed)', entry({ time: t, reports: [envelope(nonMinimal, signers.deviceA, Domain.report)] }), 'REJECT', 'report-encoding'],
    ['report of a device registered to another hub', entry({ hub: HUB_B, time: t, reports: [rA1] }), 'REJECT', 'wrong-hub'],
    ['report signed by an unregistered key', entry({ time: t, reports: [signed({ counter: 1 }, signers.stranger)] }), 'REJECT', 'report-signature'],
    ['implausible energy (more than 2x the rating pro rata)', entry({ time: t, reports: [signed({ energyMwh: 3473 })] }), 'REJECT', 'implausible'],
    ['report ends more than 120 s after its entry', entry({ time: t, reports: [signed({ periodEnd: GENESIS + 521 })] }), 'REJECT', 'report-future'],
    ['entry more than 30 s ahead of the verifier clock', entry({ time: verifyAtMs + 30_001 }), 'IGNORE', 'future']
  ]
  return cases.map(([name, bytes, action, code]) => ({ name, signedHex: hex(bytes), verifyAtMs, action, code }))
}

function entryPayloadAt (time: number, reports: Uint8Array[]): Record<string, unknown> {
  return { hub: HUB_A, seq: 1, prev: null, epoch: 0, time, reports }
}

export const VECTORS_FILE = 'protocol-v1.json'

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

  const evEntry = encodeEvidence('entry', e2, e2x)
  const evReport = encodeEvidence('report', signed(rB7), signed(rB7x))
  const sha = (b: Uint8Array): string => hex(sha256(b))

  return {
    version: 1,
    about: 'eCandle Mesh protocol test vectors; see README.md in this folder. Generated by scripts/make-vectors.mjs; checked by test/vectors.test.ts.',
    keys: Object.fromEntries((['hubA', 'hubB', 'operatorA', 'operatorB', 'deviceA', 'deviceB', 'capex', 'opex'] as const).map(k => [k, {
      seedHex: hex(new Uint8Array(32).fill(seedOf[k])),
      publicKeyHex: hex(signers[k].publicKey),
      ...(k === 'hubA' ? { peerId: HUB_A } : k === 'hubB' ? { peerId: HUB_B } : {})
    }])),
    domains: { ...Domain, entryForThisNetwork: entryDomain(net.id) },
    limits,
    network: {
      definition: def,
      idInputCborHex: hex(encode(JSON.parse(JSON.stringify(rules)))),
      id: net.id,
      idCheck: networkId(def)
    },
    names: {
      topics: { entries: topics.entries(net.id), evidence: topics.evidence(net.id), consensus: topics.consensus(net.id), certificates: topics.certificates(net.id) },
      protocols: { heads: protocols.heads(net.id), entries: protocols.entries(net.id), certificates: protocols.certificates(net.id), dhtPrefix: protocols.dhtPrefix(net.id) }
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
      { name: 'device B signed two reports #7', kind: 'report', offender: DEV_B, slot: 7, bytesHex: hex(evReport), id: sha(evReport) }
    ],
    invalidEntries: invalidEntries(verifyAt),
    invalidEvidence: [
      { name: 'halves not in byte order', signedHex: hex(encode({ k: 'entry', a: Buffer.compare(e2, e2x) > 0 ? e2 : e2x, b: Buffer.compare(e2, e2x) > 0 ? e2x : e2 })), action: 'REJECT', code: 'evidence-order' }
    ]
  }
}
