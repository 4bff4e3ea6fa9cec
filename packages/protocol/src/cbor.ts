import * as dagCbor from '@ipld/dag-cbor'
import { ProtocolError } from './errors.js'

/** Canonical DAG-CBOR bytes of a value (sorted map keys, minimal integers, no floats we use). */
export function encode (value: unknown): Uint8Array {
  return dagCbor.encode(value)
}

/**
 * Decodes DAG-CBOR and insists the input is already canonical: re-encoding must give the same
 * bytes. Without this, one signed payload could have many byte forms (and many ids).
 */
export function decodeCanonical<T = unknown> (bytes: Uint8Array, what: string): T {
  let value: T
  try {
    value = dagCbor.decode<T>(bytes)
  } catch (err: any) {
    throw new ProtocolError('encoding', `${what}: not DAG-CBOR (${String(err?.message ?? err)})`)
  }
  let again: Uint8Array
  try {
    again = dagCbor.encode(value)
  } catch (err: any) {
    throw new ProtocolError('encoding', `${what}: not encodable (${String(err?.message ?? err)})`)
  }
  if (!equalBytes(again, bytes)) throw new ProtocolError('non-canonical', `${what}: bytes are not canonical DAG-CBOR`)
  return value
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

// ---- small shape checkers, each throwing a ProtocolError naming the field ----

export function isPlainObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)
}

export function expectMap (v: unknown, what: string, keys: readonly string[]): Record<string, unknown> {
  if (!isPlainObject(v)) throw new ProtocolError('shape', `${what}: expected a map`)
  const extra = Object.keys(v).filter(k => !keys.includes(k))
  if (extra.length > 0) throw new ProtocolError('shape', `${what}: unknown field(s) ${extra.join(', ')}`)
  const missing = keys.filter(k => !(k in v))
  if (missing.length > 0) throw new ProtocolError('shape', `${what}: missing field(s) ${missing.join(', ')}`)
  return v
}

export function expectUint (v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) {
    throw new ProtocolError('shape', `${what}: expected an integer in [0, ${max}]`)
  }
  return v
}

export function expectInt (v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new ProtocolError('shape', `${what}: expected an integer in [${min}, ${max}]`)
  }
  return v
}

export function expectBytes (v: unknown, what: string, maxLen: number, exactLen?: number): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new ProtocolError('shape', `${what}: expected bytes`)
  if (v.byteLength > maxLen) throw new ProtocolError('size', `${what}: ${v.byteLength} bytes > ${maxLen}`)
  if (exactLen !== undefined && v.byteLength !== exactLen) throw new ProtocolError('shape', `${what}: expected ${exactLen} bytes`)
  return v
}

export function expectString (v: unknown, what: string, maxLen: number, pattern?: RegExp): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLen) {
    throw new ProtocolError('shape', `${what}: expected a string of 1..${maxLen} characters`)
  }
  if (pattern !== undefined && !pattern.test(v)) throw new ProtocolError('shape', `${what}: does not match ${String(pattern)}`)
  return v
}
