import { decodeReport, encode, encodeCertificate, encodeConsensusPayload, noGovernance, valueIdOf, voteDomain, type EpochValue, type VerifiedEntry } from '@ecandle/protocol'
import { entry, fixture, type Fixture } from '@ecandle/protocol/testing'
import { genesisState, proveAccount, tally, type SegmentReport } from '@ecandle/tally'
import type { EpochSummary, RewardProofJson, RewardsJson } from '../src/index.js'

/**
 * Signed test data on the protocol's fixture network (2 hubs, 2 devices each, fixed keys): log
 * entries, a decided epoch with a real certificate, and a reward proof against its root.
 */
export const f: Fixture = fixture()
export const net = f.net
/** Capex and opex account of every fixture device. */
export const ACCOUNT = net.def.devices[0].capex

/** Hub h's log: entries 1..n, each with one report per device, counters rising. */
export function log (h: number, n: number): VerifiedEntry[] {
  const out: VerifiedEntry[] = []
  for (let seq = 1; seq <= n; seq++) out.push(entry(f, h, seq, out[seq - 2], [seq, seq]))
  return out
}

/** The precommit signatures of `signers` (validator indices) over `value`, as a certificate. */
export function certify (value: EpochValue, round = 0, signers = [0, 1]): Uint8Array {
  const valueId = valueIdOf(value)
  const sigs: Array<[number, Uint8Array]> = signers.map(i => [i, f.hubs[i].sign(voteDomain(net.id), encodeConsensusPayload({ type: 'precommit', epoch: value.epoch, round, from: f.hubIds[i], valueId }))])
  return encodeCertificate(net, { value, round, signatures: sigs })
}

/** A certificate with only the given signatures (no quorum trimming), for the too-few-signers case. */
export function rawCertificate (value: EpochValue, sigs: Array<[number, Uint8Array]>, round = 0): Uint8Array {
  return encode({ value: { epoch: value.epoch, prev: value.prev, cut: value.cut.map(c => ({ hub: c.hub, seq: c.seq, id: c.id })), root: value.root, gov: value.gov, state: value.state, next: value.next }, round, sigs })
}

export interface DecidedEpoch {
  logs: VerifiedEntry[][]
  value: EpochValue
  certificate: Uint8Array
  summary: EpochSummary
  rewards: RewardsJson
  proof: RewardProofJson
}

/** Epoch 0 over 2 entries of each hub: its tally, certificate, API summary and ACCOUNT's reward proof. */
export function decidedEpoch (): DecidedEpoch {
  const logs = [log(0, 2), log(1, 2)]
  const segment: SegmentReport[] = []
  for (const [h, entries] of logs.entries()) {
    for (const e of entries) {
      e.payload.reports.forEach((rb, index) => {
        const d = decodeReport(rb)
        const r = d.report
        segment.push({ hub: f.hubIds[h], seq: e.payload.seq, index, reportId: d.id, device: r.device, counter: r.counter, periodStart: r.periodStart, periodEnd: r.periodEnd, energyMwh: r.energyMwh, solarMwh: r.solarMwh, litS: r.litS })
      })
    }
  }
  const devices = new Map([...net.devices].map(([id, d]) => [id, { id, hub: d.info.hub, capex: d.info.capex, opex: d.info.opex, ratedWhPerDay: d.info.ratedWhPerDay }]))
  const result = tally({ epoch: 0, params: { emissionPerEpoch: 1000n, capexBps: 5000, deviceCapMwhPerEpoch: 1_000_000n }, devices, segment, prev: genesisState(), equivocated: new Set() })
  const value: EpochValue = { epoch: 0, prev: null, cut: logs.map((l, h) => ({ hub: f.hubIds[h], seq: 2, id: l[1].id })), root: result.root, ...noGovernance(net) }
  const certificate = certify(value)
  const p = proveAccount(result, ACCOUNT)
  const proof: RewardProofJson = { leaf: Buffer.from(p.leaf).toString('hex'), path: p.path, root: p.root }
  const row = result.accounts.find(a => a.account === ACCOUNT)!
  const summary: EpochSummary = {
    epoch: 0,
    valueId: valueIdOf(value),
    root: value.root,
    prev: null,
    round: 0,
    signers: [...f.hubIds],
    cut: value.cut.map(c => ({ hub: c.hub, seq: c.seq, id: c.id?.toString() ?? null })),
    totals: Object.fromEntries(Object.entries(result.totals).map(([k, v]) => [k, String(v)])) as EpochSummary['totals'],
    certificate: Buffer.from(certificate).toString('base64')
  }
  const rewards: RewardsJson = { account: ACCOUNT, epoch: 0, root: value.root, epochAmount: String(row.epochAmount), cumulative: String(row.cumulative), proof }
  return { logs, value, certificate, summary, rewards, proof }
}

/** A copy of `b` with byte `i` (negative: from the end) flipped. */
export function flip (b: Uint8Array, i: number): Uint8Array {
  const c = b.slice()
  const k = i < 0 ? c.length + i : i
  c[k] ^= 0x01
  return c
}
