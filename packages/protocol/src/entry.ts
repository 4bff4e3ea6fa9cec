import type { CID } from 'multiformats/cid'
import { decodeCanonical, encode, expectBytes, expectMap, expectString, expectUint } from './cbor.js'
import { Domain, verifySignature, type Signer } from './crypto.js'
import { DECODE_CODES, isDecodeError, ProtocolError, rules } from './errors.js'
import { contentId } from './ids.js'
import { limits } from './names.js'
import { epochOf, type Network } from './network.js'
import { decodeReportRejecting, REPORT_CODES, reportDevice, reportRulesAfterSignature, reportSignature, verifyReport, type DecodedReport } from './report.js'
import { genesisLookup, HUB_ADMISSION_CODES, type EntryLookup } from './admission.js'
import { defaultVerifier, type SignatureVerifier } from './verifier.js'

/** One hub log entry: a batch of device-signed reports, hash-chained to the previous entry. */
export interface EntryPayload {
  /** Peer id of the hub whose log this is. */
  hub: string
  /** 1, 2, … */
  seq: number
  /** Content id of entry seq−1; null for seq 1. */
  prev: CID | null
  /** Epoch of `time` by the hub's clock. */
  epoch: number
  /** Unix ms, hub clock. */
  time: number
  /** Original signed report bytes. */
  reports: Uint8Array[]
}

export interface DecodedEntry {
  /** The original signed bytes: stored and forwarded as they are. */
  bytes: Uint8Array
  id: CID
  payload: EntryPayload
  signature: Uint8Array
  body: Uint8Array
}

export interface VerifiedEntry extends DecodedEntry {
  reports: DecodedReport[]
}

/** Hub signatures are bound to the network: the same key on two networks cannot be replayed. */
export const entryDomain = (networkId: string): string => `${Domain.entry}/${networkId}`

export function signEntry (net: Network, signer: Signer, payload: EntryPayload): Uint8Array {
  return sealEntry(net, signer, payload).bytes
}

function sealEntry (net: Network, signer: Signer, payload: EntryPayload): { bytes: Uint8Array, body: Uint8Array, signature: Uint8Array } {
  const body = encode({ ...payload })
  const signature = signer.sign(entryDomain(net.id), body)
  return { bytes: encode({ p: body, s: signature }), body, signature }
}

/** Decodes a signed entry (shape and bounds only). Throws ProtocolError. */
export function decodeEntry (bytes: Uint8Array): DecodedEntry {
  if (bytes.byteLength > limits.maxEntryBytes) throw new ProtocolError('size', `entry: ${bytes.byteLength} bytes > ${limits.maxEntryBytes}`)
  const env = expectMap(decodeCanonical(bytes, 'entry'), 'entry', ['p', 's'])
  const body = expectBytes(env.p, 'entry.p', limits.maxEntryBytes)
  const signature = expectBytes(env.s, 'entry.s', 64, 64)
  const m = expectMap(decodeCanonical(body, 'entry payload'), 'entry payload', ['hub', 'seq', 'prev', 'epoch', 'time', 'reports'])
  const seq = expectUint(m.seq, 'entry.seq')
  if (seq < 1) throw new ProtocolError('shape', 'entry.seq: must be ≥ 1')
  const prev = m.prev
  if (seq === 1 ? prev !== null : (prev === null || typeof prev !== 'object' || (prev as any).asCID !== prev)) {
    throw new ProtocolError('shape', 'entry.prev: must be null for seq 1 and a CID link otherwise')
  }
  if (!Array.isArray(m.reports) || m.reports.length === 0 || m.reports.length > limits.maxReportsPerEntry) {
    throw new ProtocolError('shape', `entry.reports: expected 1..${limits.maxReportsPerEntry} reports`)
  }
  const reports = m.reports.map((r, i) => expectBytes(r, `entry.reports[${i}]`, limits.maxReportBytes))
  const payload: EntryPayload = {
    hub: expectString(m.hub, 'entry.hub', 128),
    seq,
    prev: prev as CID | null,
    epoch: expectUint(m.epoch, 'entry.epoch'),
    time: expectUint(m.time, 'entry.time'),
    reports
  }
  return { bytes, id: contentId(bytes), payload, signature, body }
}

/** Codes of the stateless entry rules (docs/protocol.md §5): every one a REJECT but `future` and, under governance, `hub-removed`, `hub-pending`, `device-pending` (IGNORE). */
export const ENTRY_CODES = [
  ...DECODE_CODES.map(c => `entry-${c}` as const), ...HUB_ADMISSION_CODES, 'entry-signature', 'entry-epoch', 'future',
  ...REPORT_CODES, 'report-future', 'counter-order'
] as const
export type EntryCode = typeof ENTRY_CODES[number]

const entryRule = rules<EntryCode>()

/**
 * Every rule that needs no log state, in the order they are cheapest to check.
 * Stateful rules (duplicate, gap, chain link, counters) live with the store.
 * `lookup`: who may log and whose reports (default: the network file; under governance
 * `admissionLookup(latest state)`, docs/governance.md §7).
 */
export function verifyEntry (net: Network, bytes: Uint8Array, nowMs: number, lookup: EntryLookup = genesisLookup(net)): VerifiedEntry {
  const e = decodeEntryRejecting(bytes)
  const hubKey = lookup.hubKey(e.payload.hub, e.payload.epoch)
  entryRulesAfterSignature(net, e, verifySignature(hubKey, entryDomain(net.id), e.body, e.signature), nowMs)
  const at = { lookup, stamp: e.payload.epoch }
  const reports: DecodedReport[] = []
  const lastCounter = new Map<string, number>()
  for (const rb of e.payload.reports) {
    const r = verifyReport(net, rb, e.payload.hub, at)
    reportInEntryRules(e, r, lastCounter)
    reports.push(r)
  }
  return { ...e, reports }
}

/**
 * verifyEntry with the signatures checked by `verifier` (worker threads: every core), same rules,
 * same order, so the same first failure: the hub signature alone first (a forged entry costs one
 * check, not one per report); then, for the reports, the rules before each signature up to the
 * first that fails, the signatures of the reports before it in one batch, and the rest in order.
 */
export async function verifyEntryAsync (net: Network, bytes: Uint8Array, nowMs: number, verifier: SignatureVerifier = defaultVerifier(), lookup: EntryLookup = genesisLookup(net)): Promise<VerifiedEntry> {
  return await verifyDecodedEntryAsync(net, decodeEntryRejecting(bytes), nowMs, verifier, lookup)
}

/** verifyEntryAsync after `decodeEntryRejecting`, for a caller that decoded the bytes already (ingest: each entry is decoded once). */
export async function verifyDecodedEntryAsync (net: Network, e: DecodedEntry, nowMs: number, verifier: SignatureVerifier = defaultVerifier(), lookup: EntryLookup = genesisLookup(net)): Promise<VerifiedEntry> {
  const hubKey = lookup.hubKey(e.payload.hub, e.payload.epoch)
  const [ok] = await verifier.verifyAll([{ publicKey: hubKey, domain: entryDomain(net.id), message: e.body, signature: e.signature }])
  entryRulesAfterSignature(net, e, ok, nowMs)
  const at = { lookup, stamp: e.payload.epoch }
  const before: Array<{ d: DecodedReport, dev: ReturnType<typeof reportDevice> }> = []
  let failed: { err: unknown } | undefined
  for (const rb of e.payload.reports) {
    try {
      const d = decodeReportRejecting(rb)
      before.push({ d, dev: reportDevice(net, d, e.payload.hub, at) })
    } catch (err) {
      failed = { err }
      break
    }
  }
  const oks = await verifier.verifyAll(before.map(b => reportSignature(b.dev, b.d)))
  const reports: DecodedReport[] = []
  const lastCounter = new Map<string, number>()
  for (let i = 0; i < before.length; i++) {
    const r = reportRulesAfterSignature(before[i].d, before[i].dev, oks[i])
    reportInEntryRules(e, r, lastCounter)
    reports.push(r)
  }
  if (failed !== undefined) throw failed.err
  return { ...e, reports }
}

/**
 * Our own next entry, of reports this hub verified when its devices sent them: signed, and
 * returned as verifyEntry would return it without decoding or verifying anything again. The rules
 * that need no signature check still run (a hub that may log, epoch of its time, not from the
 * future, reports not after the entry, counters rising per device), as do the size limits.
 */
export function signVerifiedEntry (net: Network, signer: Signer, header: Omit<EntryPayload, 'reports'>, reports: DecodedReport[], nowMs: number, lookup: EntryLookup = genesisLookup(net)): VerifiedEntry {
  if (reports.length === 0 || reports.length > limits.maxReportsPerEntry) throw entryRule.reject('entry-shape', `entry.reports: expected 1..${limits.maxReportsPerEntry} reports`)
  const payload: EntryPayload = { ...header, reports: reports.map(r => r.bytes) }
  const { bytes, body, signature } = sealEntry(net, signer, payload)
  if (bytes.byteLength > limits.maxEntryBytes) throw entryRule.reject('entry-size', `entry: ${bytes.byteLength} bytes > ${limits.maxEntryBytes}`)
  const e: DecodedEntry = { bytes, id: contentId(bytes), payload, signature, body }
  lookup.hubKey(payload.hub, payload.epoch)
  entryRulesAfterSignature(net, e, true, nowMs)
  const lastCounter = new Map<string, number>()
  for (const r of reports) reportInEntryRules(e, r, lastCounter)
  return { ...e, reports }
}

/** decodeEntry, with its failures as REJECT `entry-<code>` (what verifyEntry throws for them). */
export function decodeEntryRejecting (bytes: Uint8Array): DecodedEntry {
  try {
    return decodeEntry(bytes)
  } catch (err) {
    // Size, encoding and shape: the bytes themselves are bad.
    if (isDecodeError(err)) throw entryRule.reject(`entry-${err.code}`, err.message)
    throw err
  }
}

/** `ok`: the hub's signature over the payload bytes as received (its key from `lookup.hubKey`: only hubs that may log); then the rules after it. */
function entryRulesAfterSignature (net: Network, e: DecodedEntry, ok: boolean, nowMs: number): void {
  const p = e.payload
  if (!ok) throw entryRule.reject('entry-signature', `entry ${p.hub}#${p.seq}: bad hub signature`)
  // The epoch stamp must be the epoch of the entry's own time (a cut relies on it).
  if (p.epoch !== epochOf(net, p.time)) throw entryRule.reject('entry-epoch', `entry ${p.hub}#${p.seq}: epoch ${p.epoch} is not the epoch of its time`)
  // From our future: we may be behind; not provably bad, so drop it now and let sync bring it later.
  if (p.time > nowMs + limits.maxClockSkewMs) throw entryRule.ignore('future', `entry ${p.hub}#${p.seq}: time is ${p.time - nowMs} ms ahead of ours`)
}

/** The rules for a verified report in its entry, in entry order. */
function reportInEntryRules (e: DecodedEntry, r: DecodedReport, lastCounter: Map<string, number>): void {
  const p = e.payload
  // A report cannot end after the entry that carries it (beyond device clock slack).
  if (r.report.periodEnd * 1000 > p.time + limits.maxReportSkewS * 1000) {
    throw entryRule.reject('report-future', `entry ${p.hub}#${p.seq}: report ${r.report.device}#${r.report.counter} ends after the entry`)
  }
  // Counters rise strictly per device within an entry (across entries: checked against the log).
  const last = lastCounter.get(r.report.device)
  if (last !== undefined && r.report.counter <= last) {
    throw entryRule.reject('counter-order', `entry ${p.hub}#${p.seq}: device ${r.report.device} counter ${r.report.counter} after ${last}`)
  }
  lastCounter.set(r.report.device, r.report.counter)
}
