import * as dagCbor from '@ipld/dag-cbor'
import { DEVICE_ID_RE, ProtocolError, encode, limits } from '@ecandle/protocol'
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

export function encodeMessage (m: LinkMessage): Uint8Array {
  let w: Record<string, unknown>
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
  return encode(w)
}

/** Decodes one message; throws ProtocolError (never anything else) on bad input. */
export function decodeMessage (bytes: Uint8Array): LinkMessage {
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
