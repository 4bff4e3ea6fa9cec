import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { ProtocolError } from './errors.js'

/**
 * Ed25519 with node:crypto (OpenSSL): ~15x faster than pure-JS. Keys travel as raw 32-byte
 * public keys / 32-byte seeds; DER prefixes turn them into KeyObjects.
 */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

/**
 * Domain tags: a signature for one kind of object can never be replayed as another. Hub signatures
 * (`entry`, `vote`) are made under the tag followed by `/<network-id>` (`entryDomain`, `voteDomain`),
 * so they never verify on another network. Evidence is not signed: both halves carry signatures.
 */
export const Domain = {
  report: 'ecandle/report/1',
  entry: 'ecandle/entry/1',
  vote: 'ecandle/vote/1',
  /** Governance operations (every signer of one signs the same payload), `/<network-id>` appended. */
  gov: 'ecandle/gov/1',
  /** Approvals of validators and builders, `/<network-id>` appended. */
  approval: 'ecandle/approval/1',
  /** A maker's signature over a device public key: made at the factory, for any network. */
  maker: 'ecandle/maker/1',
  /** Operators endorsing a continued network, `/<id of the network it continues>` appended. */
  continue: 'ecandle/continue/1'
} as const

export interface Signer {
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array
  sign: (domain: string, message: Uint8Array) => Uint8Array
}

/** Bytes actually signed: utf8(domain) || 0x00 || message. The 0x00 ends the tag unambiguously. */
export function signingBytes (domain: string, message: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(domain, 'utf8'), Buffer.from([0]), message])
}

export function signerFromSeed (seed: Uint8Array): Signer {
  if (seed.byteLength !== 32) throw new ProtocolError('key', 'Ed25519 seed must be 32 bytes')
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
  const publicKey = rawPublicKey(createPublicKey(key))
  return {
    publicKey,
    sign: (domain, message) => new Uint8Array(sign(null, signingBytes(domain, message), key))
  }
}

export function generateSeed (): Uint8Array {
  const { privateKey } = generateKeyPairSync('ed25519')
  const der = privateKey.export({ format: 'der', type: 'pkcs8' })
  return new Uint8Array(der.subarray(der.length - 32))
}

function rawPublicKey (key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'spki' })
  return new Uint8Array(der.subarray(der.length - 32))
}

// Public keys are parsed once and kept; the cache is bounded (registry sizes are in the thousands).
const KEY_CACHE_MAX = 65_536
const keyCache = new Map<string, KeyObject>()

// Keys held by a parsed network are the same Uint8Array objects every time: look them up by identity first.
const keyByArray = new WeakMap<Uint8Array, KeyObject>()

function publicKeyObject (publicKey: Uint8Array): KeyObject {
  const known = keyByArray.get(publicKey)
  if (known !== undefined) return known
  const key = publicKeyByHex(publicKey)
  keyByArray.set(publicKey, key)
  return key
}

function publicKeyByHex (publicKey: Uint8Array): KeyObject {
  const hex = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('hex') // a view, not a copy
  let key = keyCache.get(hex)
  if (key === undefined) {
    if (publicKey.byteLength !== 32) throw new ProtocolError('key', 'Ed25519 public key must be 32 bytes')
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' })
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value as string)
    keyCache.set(hex, key)
  }
  return key
}

export function verifySignature (publicKey: Uint8Array, domain: string, message: Uint8Array, signature: Uint8Array): boolean {
  return checkSignature(publicKey, signingBytes(domain, message), signature, publicKeyObject)
}

/**
 * verifySignature on the bytes actually signed (`signingBytes(domain, message)`, built by the
 * caller), the key looked up by value: for VerifyPool's workers, which get copies of keys.
 */
export function verifySigningInput (publicKey: Uint8Array, input: Uint8Array, signature: Uint8Array): boolean {
  return checkSignature(publicKey, input, signature, publicKeyByHex)
}

function checkSignature (publicKey: Uint8Array, input: Uint8Array, signature: Uint8Array, keyOf: (k: Uint8Array) => KeyObject): boolean {
  if (signature.byteLength !== 64) return false
  try {
    return verify(null, input, keyOf(publicKey), signature)
  } catch {
    return false
  }
}

export function sha256 (...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

export function fromHex (s: string, what: string, len?: number): Uint8Array {
  if (!/^([0-9a-f]{2})*$/.test(s)) throw new ProtocolError('hex', `${what}: expected lowercase hex`)
  const b = new Uint8Array(Buffer.from(s, 'hex'))
  if (len !== undefined && b.byteLength !== len) throw new ProtocolError('hex', `${what}: expected ${len} bytes of hex`)
  return b
}
