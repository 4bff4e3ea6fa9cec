import { createHash, createPrivateKey, createPublicKey, randomBytes as nodeRandomBytes, sign, verify, type KeyObject } from 'node:crypto'
import type { CryptoApi, Ed25519Signer, VerifyItem } from './api.js'

export type { CryptoApi, Ed25519Signer, VerifyItem } from './api.js'

/**
 * Node: node:crypto (OpenSSL), ~15x faster than pure JS. Keys travel as raw 32-byte public keys /
 * 32-byte seeds; DER prefixes turn them into KeyObjects, which are parsed once and kept.
 */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

export const backend = (): string => 'node:crypto'

export function sha256 (...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

// The cache is bounded (registry sizes are in the thousands).
const KEY_CACHE_MAX = 65_536
const keyCache = new Map<string, KeyObject>()
// Keys held by a parsed network are the same Uint8Array objects every time: look them up by identity first.
const keyByArray = new WeakMap<Uint8Array, KeyObject>()

function publicKeyObject (publicKey: Uint8Array): KeyObject {
  const known = keyByArray.get(publicKey)
  if (known !== undefined) return known
  const hex = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('hex')
  let key = keyCache.get(hex)
  if (key === undefined) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' })
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value as string)
    keyCache.set(hex, key)
  }
  keyByArray.set(publicKey, key)
  return key
}

export function ed25519Verify (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.byteLength !== 64 || publicKey.byteLength !== 32) return false
  try {
    return verify(null, message, publicKeyObject(publicKey), signature)
  } catch {
    return false
  }
}

export async function ed25519VerifyBatch (items: readonly VerifyItem[]): Promise<boolean[]> {
  return items.map(([k, m, s]) => ed25519Verify(k, m, s))
}

/** OpenSSL verifies synchronously and fast: nothing to gather. */
export async function withBatchVerify<T> (fn: () => T): Promise<T> {
  return fn()
}

export function ed25519Signer (seed: Uint8Array): Ed25519Signer {
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
  const der = createPublicKey(key).export({ format: 'der', type: 'spki' })
  return {
    publicKey: new Uint8Array(der.subarray(der.length - 32)),
    sign: (message) => new Uint8Array(sign(null, message, key))
  }
}

export const randomBytes = (n: number): Uint8Array => new Uint8Array(nodeRandomBytes(n))

const view = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength)

export const toHex = (b: Uint8Array): string => view(b).toString('hex')
export const hexToBytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))
export const toBase64 = (b: Uint8Array): string => view(b).toString('base64')
export const fromBase64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'))
export const compareBytes = (a: Uint8Array, b: Uint8Array): number => Buffer.compare(a, b)
export const utf8 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'))

// Compile-time check that this file offers the whole seam.
export const api: CryptoApi = { backend, sha256, ed25519Verify, ed25519VerifyBatch, withBatchVerify, ed25519Signer, randomBytes, toHex, hexToBytes, toBase64, fromBase64, compareBytes, utf8 }
