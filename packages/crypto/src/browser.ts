import { ed25519 } from '@noble/curves/ed25519'
import { sha256 as nobleSha256, sha512 } from '@noble/hashes/sha2'
import type { CryptoApi, Ed25519Signer, VerifyItem } from './api.js'

export type { CryptoApi, Ed25519Signer, VerifyItem } from './api.js'

/**
 * Browsers: SHA-256 from noble (synchronous, as the protocol's ids need); Ed25519 checked by
 * WebCrypto where it has Ed25519 (BoringSSL in Chromium, off the main thread) when called through
 * withBatchVerify / ed25519VerifyBatch, and by the pure-JS check below otherwise. WebCrypto needs a
 * secure context (https, localhost, a file): a page served over plain http from a LAN address gets
 * the pure-JS check. Also runs in Node (tests compare it with node.ts).
 */

const Point = ed25519.Point
/** Order of the base point. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n

export function sha256 (...parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return nobleSha256(parts[0])
  const h = nobleSha256.create()
  for (const p of parts) h.update(p)
  return h.digest()
}

function leToBigint (b: Uint8Array): bigint {
  let x = 0n
  for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i])
  return x
}

/**
 * RFC 8032 verification as OpenSSL and BoringSSL do it, so every verifier of the network agrees on
 * every signature: S must be below L; A is decoded as they decode it (a non-canonical y is taken
 * mod p); k = SHA-512(R ‖ A ‖ M) mod L; the signature holds iff [S]B − [k]A encodes to R exactly
 * (cofactorless: noble's own verify multiplies by the cofactor, which accepts a few more).
 */
export function nobleVerify (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.byteLength !== 64 || publicKey.byteLength !== 32) return false
  try {
    const s = leToBigint(signature.subarray(32))
    if (s >= L) return false
    const A = Point.fromBytes(publicKey, true)
    const r = signature.subarray(0, 32)
    const k = leToBigint(sha512.create().update(r).update(publicKey).update(message).digest()) % L
    const check = Point.BASE.multiplyUnsafe(s).subtract(A.multiplyUnsafe(k)).toBytes()
    return equal(check, r)
  } catch {
    return false
  }
}

function equal (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  let d = 0
  for (let i = 0; i < a.byteLength; i++) d |= a[i] ^ b[i]
  return d === 0
}

// ---- WebCrypto (asynchronous) ----

type Subtle = SubtleCrypto
let subtleReady: Promise<Subtle | undefined> | undefined
let chosen = 'noble'

/** WebCrypto's Ed25519, if this browser has it here (checked once against RFC 8032's first vector). */
async function webCrypto (): Promise<Subtle | undefined> {
  subtleReady ??= (async () => {
    const subtle = (globalThis as { crypto?: Crypto }).crypto?.subtle
    if (subtle === undefined) return undefined
    try {
      const pk = hexToBytes('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')
      const sig = hexToBytes('e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b')
      const key = await subtle.importKey('raw', pk as BufferSource, { name: 'Ed25519' }, false, ['verify'])
      const ok = await subtle.verify({ name: 'Ed25519' }, key, sig as BufferSource, new Uint8Array(0))
      if (!ok) return undefined
      chosen = 'webcrypto'
      return subtle
    } catch {
      return undefined
    }
  })()
  return await subtleReady
}

const KEY_CACHE_MAX = 4096
const cryptoKeys = new Map<string, Promise<CryptoKey>>()

async function webVerify (subtle: Subtle, [publicKey, message, signature]: VerifyItem): Promise<boolean> {
  if (signature.byteLength !== 64 || publicKey.byteLength !== 32) return false
  // BoringSSL and OpenSSL agree on S < L; checked here too so no engine's quirk can differ.
  if (leToBigint(signature.subarray(32)) >= L) return false
  const hex = toHex(publicKey)
  let key = cryptoKeys.get(hex)
  if (key === undefined) {
    key = subtle.importKey('raw', publicKey as BufferSource, { name: 'Ed25519' }, false, ['verify'])
    if (cryptoKeys.size >= KEY_CACHE_MAX) cryptoKeys.delete(cryptoKeys.keys().next().value as string)
    cryptoKeys.set(hex, key)
  }
  try {
    return await subtle.verify({ name: 'Ed25519' }, await key, signature as BufferSource, message as BufferSource)
  } catch {
    return nobleVerify(publicKey, message, signature)
  }
}

export async function ed25519VerifyBatch (items: readonly VerifyItem[]): Promise<boolean[]> {
  const subtle = await webCrypto()
  if (subtle === undefined) return items.map(([k, m, s]) => nobleVerify(k, m, s))
  return await Promise.all(items.map(async (it) => await webVerify(subtle, it)))
}

// withBatchVerify: a first run records the checks (answering true), a batch verifies them, a second
// run gets the batch's answers. A check the first run did not make falls back to nobleVerify.
let recording: VerifyItem[] | undefined
let answers: Map<string, Array<{ item: VerifyItem, ok: boolean }>> | undefined

export function ed25519Verify (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (recording !== undefined) {
    recording.push([publicKey, message, signature])
    return true
  }
  if (answers !== undefined && signature.byteLength === 64) {
    for (const a of answers.get(toHex(signature)) ?? []) {
      if (equal(a.item[0], publicKey) && equal(a.item[1], message)) return a.ok
    }
  }
  return nobleVerify(publicKey, message, signature)
}

export async function withBatchVerify<T> (fn: () => T): Promise<T> {
  if (recording !== undefined || answers !== undefined) return fn() // nested: the outer batch decides
  if (await webCrypto() === undefined) return fn()
  const seen: VerifyItem[] = []
  recording = seen
  try { fn() } catch {} finally { recording = undefined }
  const oks = await ed25519VerifyBatch(seen)
  const map = new Map<string, Array<{ item: VerifyItem, ok: boolean }>>()
  seen.forEach((item, i) => {
    if (item[2].byteLength !== 64) return
    const k = toHex(item[2])
    const list = map.get(k) ?? []
    list.push({ item, ok: oks[i] })
    map.set(k, list)
  })
  answers = map
  try {
    return fn()
  } finally {
    answers = undefined
  }
}

export const backend = (): string => chosen

export function ed25519Signer (seed: Uint8Array): Ed25519Signer {
  const s = seed.slice()
  return { publicKey: ed25519.getPublicKey(s), sign: (message) => ed25519.sign(message, s) }
}

export function randomBytes (n: number): Uint8Array {
  const out = new Uint8Array(n)
  // getRandomValues fills at most 65,536 bytes a call.
  for (let i = 0; i < n; i += 65_536) globalThis.crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65_536)))
  return out
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

export function toHex (b: Uint8Array): string {
  let s = ''
  for (let i = 0; i < b.length; i++) s += HEX[b[i]]
  return s
}

const nibble = (c: number): number => c >= 48 && c <= 57 ? c - 48 : (c | 32) >= 97 && (c | 32) <= 102 ? (c | 32) - 87 : -1

/** As Buffer.from(s, 'hex'): decoding stops at the first pair that is not hex. */
export function hexToBytes (s: string): Uint8Array {
  const out = new Uint8Array(s.length >> 1)
  for (let i = 0; i < out.length; i++) {
    const hi = nibble(s.charCodeAt(2 * i))
    const lo = nibble(s.charCodeAt(2 * i + 1))
    if (hi < 0 || lo < 0) return out.slice(0, i)
    out[i] = (hi << 4) | lo
  }
  return out
}

export function toBase64 (b: Uint8Array): string {
  let bin = ''
  for (let i = 0; i < b.length; i += 0x8000) bin += String.fromCharCode(...b.subarray(i, i + 0x8000))
  return btoa(bin)
}

/** As Buffer.from(s, 'base64'): characters outside the alphabet are skipped, never an error. */
export function fromBase64 (s: string): Uint8Array {
  let clean = s.split('=')[0].replace(/-/g, '+').replace(/_/g, '/').replace(/[^A-Za-z0-9+/]/g, '')
  if (clean.length % 4 === 1) clean = clean.slice(0, -1)
  const bin = atob(clean + '='.repeat((4 - clean.length % 4) % 4))
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

export function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1
}

const encoder = new TextEncoder()
export const utf8 = (s: string): Uint8Array => encoder.encode(s)

// Compile-time check that this file offers the whole seam.
export const api: CryptoApi = { backend, sha256, ed25519Verify, ed25519VerifyBatch, withBatchVerify, ed25519Signer, randomBytes, toHex, hexToBytes, toBase64, fromBase64, compareBytes, utf8 }
