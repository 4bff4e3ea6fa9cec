import * as dagCbor from '@ipld/dag-cbor'
import { DEVICE_ID_RE, ProtocolError, limits } from '@ecandle/protocol'
import { MAX_PAYLOAD_BYTES } from './frame.js'

/**
 * Messages of the device link, each one DAG-CBOR map with a type key `t`. Short keys keep a
 * report message (≈ 140 B of signed report + 6 B) well inside one frame.
 * See docs/device-protocol.md for the byte-level description.
 */
export type LinkMessage = Hello | ReportMsg | Ack | TimeSync | LinkErrorMsg

/** Device → hub, at boot and on every (re)connect: who is there and what it runs. */
export interface Hello { type: 'hello', device: string, firmware: string, /** device clock, unix s, if set */ clock?: number }
/** Device → hub: one signed usage report, bytes exactly as signed. */
export interface ReportMsg { type: 'report', report: Uint8Array }
/** Hub → device: the report (device, counter) is durably stored, a duplicate, or refused for good. */
export interface Ack { type: 'ack', device: string, counter: number, status: 'stored' | 'duplicate' | 'refused', reason?: string }
/** Hub → device(s): the hub clock, unix ms. No device = every device on this link. */
export interface TimeSync { type: 'time', ms: number, device?: string }
/** Either way: something went wrong that is not about one report (unknown message, malformed report). */
export interface LinkErrorMsg { type: 'error', code: string, message: string, device?: string }

const MAX_TEXT = 128

/** A message's DAG-CBOR bytes: its wire map (wireForm), written directly (encodeFlatMap). */
export function encodeMessage (m: LinkMessage): Uint8Array {
  return encodeFlatMap(wireForm(m))
}

/** The map a message is on the wire, as `encode` (DAG-CBOR) would take it. */
export function wireForm (m: LinkMessage): Record<string, string | number | Uint8Array> {
  let w: Record<string, string | number | Uint8Array>
  switch (m.type) {
    case 'hello':
      w = { t: 'hello', d: m.device, fw: m.firmware }
      if (m.clock !== undefined) w.tm = m.clock
      break
    case 'report':
      w = { t: 'report', r: m.report }
      break
    case 'ack':
      w = { t: 'ack', d: m.device, c: m.counter, st: m.status }
      if (m.reason !== undefined) w.why = m.reason
      break
    case 'time':
      w = { t: 'time', ms: m.ms }
      if (m.device !== undefined) w.d = m.device
      break
    case 'error':
      w = { t: 'error', code: m.code, msg: m.message.slice(0, MAX_TEXT) }
      if (m.device !== undefined) w.d = m.device
      break
  }
  return w
}

const te = new TextEncoder()
const scratch = new Uint8Array(4 * MAX_PAYLOAD_BYTES)

/**
 * Canonical DAG-CBOR of a flat map of text, unsigned integers and bytes — every link message —
 * without the general encoder's per-call allocations (acks go out by the thousand). Keys are
 * sorted by length, then bytewise; lengths and integers take their shortest form. Tested to give
 * exactly `encode(map)`.
 */
export function encodeFlatMap (map: Record<string, string | number | Uint8Array>): Uint8Array {
  const keys = Object.keys(map)
  // Insertion sort: a handful of keys, and no allocation (Array.prototype.sort makes a work copy).
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]
    let j = i - 1
    while (j >= 0 && (keys[j].length > k.length || (keys[j].length === k.length && keys[j] > k))) { keys[j + 1] = keys[j]; j-- }
    keys[j + 1] = k
  }
  let o = 0
  const head = (major: number, n: number): void => {
    // Shortest form: the argument inline (< 24), or in 1, 2, 4 or 8 big-endian bytes.
    const width = n < 24 ? 0 : n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x1_0000_0000 ? 4 : 8
    scratch[o++] = (major << 5) | (width === 0 ? n : 23 + Math.log2(width) + 1)
    for (let i = width - 1; i >= 0; i--) scratch[o++] = Math.floor(n / 2 ** (8 * i)) % 256
  }
  const text = (v: string): void => {
    // ASCII (ids, codes, status words) is written as it is; anything else through TextEncoder.
    let ascii = v.length < 0x100
    for (let i = 0; ascii && i < v.length; i++) ascii = v.charCodeAt(i) < 0x80
    if (ascii) {
      head(3, v.length)
      for (let i = 0; i < v.length; i++) scratch[o++] = v.charCodeAt(i)
      return
    }
    const b = te.encode(v)
    head(3, b.byteLength)
    scratch.set(b, o)
    o += b.byteLength
  }
  head(5, keys.length)
  for (const k of keys) {
    const v = map[k]
    text(k)
    if (typeof v === 'string') text(v)
    else if (typeof v === 'number') {
      if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`message field ${k}: not an unsigned integer`)
      head(0, v)
    } else {
      head(2, v.byteLength)
      scratch.set(v, o)
      o += v.byteLength
    }
  }
  return scratch.slice(0, o)
}

/** Decodes one message; throws ProtocolError (never anything else) on bad input. */
export function decodeMessage (bytes: Uint8Array): LinkMessage {
  // The hot message, { r: <bytes>, t: "report" } in its canonical form, is read directly.
  const report = canonicalReportMessage(bytes)
  if (report !== undefined) return { type: 'report', report }
  return decodeMessageGeneral(bytes)
}

/** decodeMessage through the general DAG-CBOR decoder only (the reference its fast path is tested against). */
export function decodeMessageGeneral (bytes: Uint8Array): LinkMessage {
  if (bytes.byteLength > MAX_PAYLOAD_BYTES) throw new ProtocolError('size', `message of ${bytes.byteLength} bytes`)
  let v: unknown
  try {
    v = dagCbor.decode(bytes)
  } catch (err) {
    throw new ProtocolError('encoding', `message: not DAG-CBOR (${(err as Error).message})`)
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) throw new ProtocolError('shape', 'message: expected a map')
  const m = v as Record<string, unknown>
  const only = (...keys: string[]): void => {
    for (const k of Object.keys(m)) if (k !== 't' && !keys.includes(k)) throw new ProtocolError('shape', `message ${String(m.t)}: unknown field ${k}`)
  }
  switch (m.t) {
    case 'hello':
      only('d', 'fw', 'tm')
      return { type: 'hello', device: deviceId(m.d), firmware: text(m.fw, 'fw'), ...(m.tm !== undefined ? { clock: uint(m.tm, 'tm') } : {}) }
    case 'report':
      only('r')
      if (!(m.r instanceof Uint8Array) || m.r.byteLength === 0 || m.r.byteLength > limits.maxReportBytes) throw new ProtocolError('shape', 'report.r: expected 1..256 bytes')
      return { type: 'report', report: m.r }
    case 'ack': {
      only('d', 'c', 'st', 'why')
      const st = m.st
      if (st !== 'stored' && st !== 'duplicate' && st !== 'refused') throw new ProtocolError('shape', 'ack.st: expected stored, duplicate or refused')
      return { type: 'ack', device: deviceId(m.d), counter: uint(m.c, 'c'), status: st, ...(m.why !== undefined ? { reason: text(m.why, 'why') } : {}) }
    }
    case 'time':
      only('ms', 'd')
      return { type: 'time', ms: uint(m.ms, 'ms'), ...(m.d !== undefined ? { device: deviceId(m.d) } : {}) }
    case 'error':
      only('code', 'msg', 'd')
      return { type: 'error', code: text(m.code, 'code'), message: typeof m.msg === 'string' ? m.msg.slice(0, MAX_TEXT) : '', ...(m.d !== undefined ? { device: deviceId(m.d) } : {}) }
    default:
      throw new ProtocolError('shape', `message: unknown type ${JSON.stringify(String(m.t)).slice(0, 40)}`)
  }
}

const REPORT_TAIL = Uint8Array.of(0x61, 0x74, 0x66, 0x72, 0x65, 0x70, 0x6f, 0x72, 0x74) // "t": "report"

/** The `r` bytes of a canonical report message (a view of `b`), or undefined if `b` is anything else. */
function canonicalReportMessage (b: Uint8Array): Uint8Array | undefined {
  if (b.byteLength < 13 || b[0] !== 0xa2 || b[1] !== 0x61 || b[2] !== 0x72) return undefined // map(2), "r"
  let o = 3
  let len: number
  if (b[o] >= 0x41 && b[o] <= 0x57) len = b[o++] - 0x40
  else if (b[o] === 0x58 && b[o + 1] >= 24) { len = b[o + 1]; o += 2 } else return undefined
  if (len > limits.maxReportBytes || o + len + REPORT_TAIL.byteLength !== b.byteLength) return undefined
  for (let i = 0; i < REPORT_TAIL.byteLength; i++) if (b[o + len + i] !== REPORT_TAIL[i]) return undefined
  return b.subarray(o, o + len)
}

function deviceId (v: unknown): string {
  if (typeof v !== 'string' || !DEVICE_ID_RE.test(v)) throw new ProtocolError('shape', 'device id: expected 1..64 characters of [A-Za-z0-9._-]')
  return v
}

function text (v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length > MAX_TEXT) throw new ProtocolError('shape', `${what}: expected a string of ≤ ${MAX_TEXT} characters`)
  return v
}

function uint (v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ProtocolError('shape', `${what}: expected an unsigned integer`)
  return v
}
