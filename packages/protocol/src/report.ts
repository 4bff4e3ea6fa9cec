import { decodeCanonical, encode, expectBytes, expectInt, expectMap, expectString, expectUint } from './cbor.js'
import { Domain, sha256, toHex, verifySignature, type Signer } from './crypto.js'
import { DECODE_CODES, isDecodeError, ProtocolError, rules } from './errors.js'
import { implausibility } from '@ecandle/tally'
import { limits } from './names.js'
import { DEVICE_ID_RE, type Network } from './network.js'
import { DEVICE_ADMISSION_CODES, genesisLookup, type DeviceKey, type EntryLookup } from './admission.js'
import { defaultVerifier, type SignatureCheck, type SignatureVerifier } from './verifier.js'

/** One usage report, signed by the device that made it. */
export interface UsageReport {
  device: string
  /** Unique per device, never reused (devices count up, but a resend may arrive after newer reports). */
  counter: number
  /** Unix seconds. */
  periodStart: number
  periodEnd: number
  energyMwh: number
  solarMwh: number
  litS: number
  batteryMv: number
  /** State of charge, percent. */
  soc: number
  /** Tenths of a degree Celsius. */
  tempDeciC: number
  /** Bit set of device faults. */
  faults: number
}

/**
 * Wire form: signed report = DAG-CBOR { p: payload bytes, s: 64-byte Ed25519 signature over
 * "ecandle/report/1" 0x00 p }. The payload keys are short to keep a report near 130 bytes.
 */
const KEYS = { device: 'd', counter: 'c', periodStart: 't0', periodEnd: 't1', energyMwh: 'e', solarMwh: 's', litS: 'l', batteryMv: 'mv', soc: 'soc', tempDeciC: 'tmp', faults: 'f' } as const
const PAYLOAD_KEYS = Object.values(KEYS)

export interface DecodedReport {
  /** The original signed bytes, as received. */
  bytes: Uint8Array
  /** Hex sha256 of `bytes`. */
  id: string
  report: UsageReport
  payload: Uint8Array
  signature: Uint8Array
}

export function encodeReportPayload (r: UsageReport): Uint8Array {
  const m: Record<string, unknown> = {}
  for (const [field, key] of Object.entries(KEYS)) m[key] = r[field as keyof UsageReport]
  return encode(m)
}

export function signReport (signer: Signer, r: UsageReport): Uint8Array {
  const p = encodeReportPayload(r)
  return encode({ p, s: signer.sign(Domain.report, p) })
}

const U32 = 0xffff_ffff
const ascii = new TextDecoder()

/** Decodes a signed report and checks its shape and bounds; does not check the signature. */
export function decodeReport (bytes: Uint8Array): DecodedReport {
  if (bytes.byteLength > limits.maxReportBytes) throw new ProtocolError('size', `report: ${bytes.byteLength} bytes > ${limits.maxReportBytes}`)
  // Reports are the hot object (every device message, 256 per entry): the one canonical byte form
  // of a well-formed report is read directly; anything else goes through the general decoder,
  // which accepts the same reports (tested) and names what is wrong with the others.
  const fast = readCanonicalReport(bytes)
  if (fast !== undefined) return withId(bytes, fast.report, fast.payload, fast.signature)
  return decodeReportGeneral(bytes)
}

/** decodeReport through the general DAG-CBOR decoder only (the reference its fast path is tested against). */
export function decodeReportGeneral (bytes: Uint8Array): DecodedReport {
  if (bytes.byteLength > limits.maxReportBytes) throw new ProtocolError('size', `report: ${bytes.byteLength} bytes > ${limits.maxReportBytes}`)
  const env = expectMap(decodeCanonical(bytes, 'report'), 'report', ['p', 's'])
  const payload = expectBytes(env.p, 'report.p', limits.maxReportBytes)
  const signature = expectBytes(env.s, 'report.s', 64, 64)
  const m = expectMap(decodeCanonical(payload, 'report payload'), 'report payload', PAYLOAD_KEYS)
  const report: UsageReport = {
    device: expectString(m.d, 'report.device', 64, DEVICE_ID_RE),
    counter: expectUint(m.c, 'report.counter'),
    periodStart: expectUint(m.t0, 'report.periodStart', 2 ** 40),
    periodEnd: expectUint(m.t1, 'report.periodEnd', 2 ** 40),
    energyMwh: expectUint(m.e, 'report.energyMwh', U32),
    solarMwh: expectUint(m.s, 'report.solarMwh', U32),
    litS: expectUint(m.l, 'report.litS', U32),
    batteryMv: expectUint(m.mv, 'report.batteryMv', 100_000),
    soc: expectUint(m.soc, 'report.soc', 100),
    tempDeciC: expectInt(m.tmp, 'report.tempDeciC', -1000, 2000),
    faults: expectUint(m.f, 'report.faults', U32)
  }
  if (report.counter < 1) throw new ProtocolError('shape', 'report.counter: must be ≥ 1')
  return withId(bytes, report, payload, signature)
}

function withId (bytes: Uint8Array, report: UsageReport, payload: Uint8Array, signature: Uint8Array): DecodedReport {
  // The id is hashed only when asked for: ingest never needs it, the tally does.
  let id: string | undefined
  return { bytes, get id () { return (id ??= toHex(sha256(bytes))) }, report, payload, signature }
}

/**
 * The canonical DAG-CBOR of a signed report, read byte by byte: `{ p, s }` with `p` the map of
 * the eleven payload keys in canonical order (by length, then bytewise: c d e f l s mv t0 t1 soc
 * tmp), every length and integer in its shortest form, every bound of decodeReport met. Returns
 * undefined at the first byte that differs from that form (the caller then decodes generally).
 */
function readCanonicalReport (b: Uint8Array): { report: UsageReport, payload: Uint8Array, signature: Uint8Array } | undefined {
  let o = 0
  const n = b.byteLength
  /** A head of major type `major` in shortest form; its argument, or -1. */
  const head = (major: number): number => {
    if (o >= n || b[o] >> 5 !== major) return -1
    const info = b[o++] & 0x1f
    if (info < 24) return info
    if (info === 24) { if (o + 1 > n || b[o] < 24) return -1; return b[o++] }
    if (info === 25) { if (o + 2 > n) return -1; const v = (b[o] << 8) | b[o + 1]; o += 2; return v >= 0x100 ? v : -1 }
    if (info === 26) { if (o + 4 > n) return -1; const v = ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3]; o += 4; return v >= 0x10000 ? v : -1 }
    if (info === 27) {
      if (o + 8 > n) return -1
      const hi = ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3]
      const lo = ((b[o + 4] << 24) >>> 0) + (b[o + 5] << 16) + (b[o + 6] << 8) + b[o + 7]
      o += 8
      // Shortest form (≥ 2^32) and a safe integer (< 2^53), as the general decoder returns.
      return hi > 0 && hi < 0x200000 ? hi * 0x1_0000_0000 + lo : -1
    }
    return -1
  }
  /** A one-, two- or three-letter text key, exactly. */
  const key = (k: string): boolean => {
    if (o + 1 + k.length > n || b[o] !== 0x60 + k.length) return false
    for (let i = 0; i < k.length; i++) if (b[o + 1 + i] !== k.charCodeAt(i)) return false
    o += 1 + k.length
    return true
  }
  const uint = (k: string, max: number): number => key(k) ? (v => v <= max ? v : -1)(head(0)) : -1
  if (n < 2 || b[o++] !== 0xa2 || !key('p')) return undefined
  const pLen = head(2)
  if (pLen < 0 || o + pLen > n) return undefined
  const pStart = o
  const pEnd = o + pLen
  // The payload map.
  if (b[o++] !== 0xab) return undefined
  const counter = uint('c', Number.MAX_SAFE_INTEGER)
  if (counter < 1 || !key('d')) return undefined
  const dLen = head(3)
  if (dLen < 1 || dLen > 64 || o + dLen > pEnd) return undefined
  for (let i = 0; i < dLen; i++) {
    const c = b[o + i]
    // [A-Za-z0-9._-], as DEVICE_ID_RE.
    if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x5f || c === 0x2d)) return undefined
  }
  const device = ascii.decode(b.subarray(o, o + dLen))
  o += dLen
  const energyMwh = uint('e', U32)
  const faults = uint('f', U32)
  const litS = uint('l', U32)
  const solarMwh = uint('s', U32)
  const batteryMv = uint('mv', 100_000)
  const periodStart = uint('t0', 2 ** 40)
  const periodEnd = uint('t1', 2 ** 40)
  const soc = uint('soc', 100)
  if (energyMwh < 0 || faults < 0 || litS < 0 || solarMwh < 0 || batteryMv < 0 || periodStart < 0 || periodEnd < 0 || soc < 0 || !key('tmp')) return undefined
  let tempDeciC: number
  if (o < n && b[o] >> 5 === 1) {
    const v = head(1)
    if (v < 0) return undefined
    tempDeciC = -1 - v
  } else {
    tempDeciC = head(0)
    if (tempDeciC < 0) return undefined
  }
  if (tempDeciC < -1000 || tempDeciC > 2000 || o !== pEnd) return undefined
  // The signature: exactly 64 bytes, and nothing after it.
  if (!key('s') || head(2) !== 64 || o + 64 !== n) return undefined
  return {
    report: { device, counter, periodStart, periodEnd, energyMwh, solarMwh, litS, batteryMv, soc, tempDeciC, faults },
    payload: b.subarray(pStart, pEnd),
    signature: b.subarray(o, o + 64)
  }
}

/** The plausibility rule (docs/protocol.md §3) is the tally's, so hubs and tallies apply one function. */
export { implausibility }

/** Codes of the report rules (docs/protocol.md §5), each a REJECT but `device-pending` (IGNORE, under governance: docs/governance.md §7). */
export const REPORT_CODES = [
  ...DECODE_CODES.map(c => `report-${c}` as const), ...DEVICE_ADMISSION_CODES, 'report-signature', 'implausible'
] as const
export type ReportCode = typeof REPORT_CODES[number]

const reportRule = rules<ReportCode>()

/** Why a hub refuses a device's report for good (the `why` of a device link ack, docs/device-protocol.md). */
export const REFUSAL_REASONS = ['malformed', 'unregistered-device', 'wrong-hub', 'bad-signature', 'implausible', 'clock', 'counter-reused', 'not-yet-registered', 'retired'] as const
export type RefusalReason = typeof REFUSAL_REASONS[number]

/** What a device is told when one of its reports fails a report rule. Exhaustive: a new ReportCode does not compile until it is mapped here. */
export const REFUSAL_FOR: Readonly<Record<ReportCode, RefusalReason>> = {
  'report-size': 'malformed',
  'report-encoding': 'malformed',
  'report-non-canonical': 'malformed',
  'report-shape': 'malformed',
  'unregistered-device': 'unregistered-device',
  'wrong-hub': 'wrong-hub',
  // Under governance: registered, but from a later epoch than the one the report would be logged in.
  'not-yet-registered': 'not-yet-registered',
  'device-pending': 'unregistered-device',
  'report-signature': 'bad-signature',
  implausible: 'implausible'
}

/**
 * Every stateless rule for a report that a hub `hub` put in its log (or is about to):
 * REJECT on bad encoding, unregistered device, device of another hub, bad signature, implausible values.
 * `at`: the registry to ask and the epoch stamp of the entry (default: the network file's devices;
 * under governance `admissionLookup`, docs/governance.md §7).
 */
export function verifyReport (net: Network, bytes: Uint8Array, hub: string, at?: ReportAt): DecodedReport {
  const d = decodeReportRejecting(bytes)
  const dev = reportDevice(net, d, hub, at)
  return reportRulesAfterSignature(d, dev, verifySignature(dev.publicKey, Domain.report, d.payload, d.signature))
}

/** Where a report is judged: the registry to ask and the epoch stamp of the entry that carries it. */
export interface ReportAt { lookup: EntryLookup, stamp: number }

/**
 * verifyReport's rules for a report already decoded (a device link decodes it once to learn
 * device and counter), with the signature checked by `verifier` off this thread.
 */
export async function verifyDecodedReport (net: Network, d: DecodedReport, hub: string, verifier: SignatureVerifier = defaultVerifier(), at?: ReportAt): Promise<DecodedReport> {
  const dev = reportDevice(net, d, hub, at)
  return await verifier.verifyAll([reportSignature(dev, d)]).then(ok => reportRulesAfterSignature(d, dev, ok[0]))
}

/** decodeReport, with its failures as REJECT `report-<code>`. */
export function decodeReportRejecting (bytes: Uint8Array): DecodedReport {
  try {
    return decodeReport(bytes)
  } catch (err) {
    if (isDecodeError(err)) throw reportRule.reject(`report-${err.code}`, err.message)
    throw err
  }
}

/** The rules before the signature: a registered device (by the network file: of this hub); its key and rating. */
export function reportDevice (net: Network, d: DecodedReport, hub: string, at?: ReportAt): DeviceKey {
  return (at?.lookup ?? genesisLookup(net)).device(d.report.device, hub, at?.stamp ?? 0)
}

/** The device's own signature over the payload bytes as received. */
export function reportSignature (dev: DeviceKey, d: DecodedReport): SignatureCheck {
  return { publicKey: dev.publicKey, domain: Domain.report, message: d.payload, signature: d.signature }
}

/** The signature's result (`ok`), then the rules after it. */
export function reportRulesAfterSignature (d: DecodedReport, dev: DeviceKey, ok: boolean): DecodedReport {
  if (!ok) throw reportRule.reject('report-signature', `report: bad signature of device ${d.report.device}`)
  const why = implausibility(d.report, dev.ratedWhPerDay)
  if (why !== undefined) throw reportRule.reject('implausible', `report of ${d.report.device}#${d.report.counter}: ${why}`)
  return d
}
