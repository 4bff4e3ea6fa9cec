import { decodeCanonical, encode, expectBytes, expectInt, expectMap, expectString, expectUint } from './cbor.js'
import { Domain, sha256, toHex, verifySignature, type Signer } from './crypto.js'
import { DECODE_CODES, isDecodeError, ProtocolError, rules } from './errors.js'
import { implausibility } from '@ecandle/tally'
import { limits } from './names.js'
import { DEVICE_ID_RE, type Network } from './network.js'
import { DEVICE_ADMISSION_CODES, genesisLookup, type EntryLookup } from './admission.js'

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

/** Decodes a signed report and checks its shape and bounds; does not check the signature. */
export function decodeReport (bytes: Uint8Array): DecodedReport {
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
  // The id is hashed only when asked for: ingest never needs it, the tally does.
  let id: string | undefined
  return { bytes, get id () { return (id ??= toHex(sha256(bytes))) }, report, payload, signature }
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
export const REFUSAL_REASONS = ['malformed', 'unregistered-device', 'wrong-hub', 'bad-signature', 'implausible', 'clock', 'counter-reused'] as const
export type RefusalReason = typeof REFUSAL_REASONS[number]

/** What a device is told when one of its reports fails a report rule. Exhaustive: a new ReportCode does not compile until it is mapped here. */
export const REFUSAL_FOR: Readonly<Record<ReportCode, RefusalReason>> = {
  'report-size': 'malformed',
  'report-encoding': 'malformed',
  'report-non-canonical': 'malformed',
  'report-shape': 'malformed',
  'unregistered-device': 'unregistered-device',
  'wrong-hub': 'wrong-hub',
  // Under governance: not registered at the epoch the report would be logged in (yet). A hub's own
  // links refuse those by `linkRefusal` first; the device hears it is not registered.
  'not-yet-registered': 'unregistered-device',
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
export function verifyReport (net: Network, bytes: Uint8Array, hub: string, at?: { lookup: EntryLookup, stamp: number }): DecodedReport {
  let d: DecodedReport
  try {
    d = decodeReport(bytes)
  } catch (err) {
    if (isDecodeError(err)) throw reportRule.reject(`report-${err.code}`, err.message)
    throw err
  }
  // A registered device (by the network file: of this hub); its key and rating.
  const dev = (at?.lookup ?? genesisLookup(net)).device(d.report.device, hub, at?.stamp ?? 0)
  // The device's own signature over the payload bytes as received.
  if (!verifySignature(dev.publicKey, Domain.report, d.payload, d.signature)) {
    throw reportRule.reject('report-signature', `report: bad signature of device ${d.report.device}`)
  }
  const why = implausibility(d.report, dev.ratedWhPerDay)
  if (why !== undefined) throw reportRule.reject('implausible', `report of ${d.report.device}#${d.report.counter}: ${why}`)
  return d
}
