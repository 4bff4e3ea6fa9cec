import { ed25519Signer, ed25519Verify, hexToBytes, randomBytes, sha256 as seamSha256, toHex as seamToHex, utf8 } from '@ecandle/crypto'
import { ProtocolError } from './errors.js'

/**
 * Signatures and hashes of the protocol. The primitives come from the crypto seam (@ecandle/crypto:
 * node:crypto in Node, WebCrypto/noble in browsers, one answer for every input); what is signed,
 * and under which domain tag, is defined here.
 */

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

const domainBytes = new Map<string, Uint8Array>()

/** Bytes actually signed: utf8(domain) || 0x00 || message. The 0x00 ends the tag unambiguously. */
export function signingBytes (domain: string, message: Uint8Array): Uint8Array {
  let d = domainBytes.get(domain)
  if (d === undefined) {
    d = utf8(domain)
    if (domainBytes.size < 64) domainBytes.set(domain, d)
  }
  const out = new Uint8Array(d.byteLength + 1 + message.byteLength)
  out.set(d)
  out.set(message, d.byteLength + 1)
  return out
}

export function signerFromSeed (seed: Uint8Array): Signer {
  if (seed.byteLength !== 32) throw new ProtocolError('key', 'Ed25519 seed must be 32 bytes')
  const s = ed25519Signer(seed)
  return {
    publicKey: s.publicKey,
    sign: (domain, message) => s.sign(signingBytes(domain, message))
  }
}

/** A new random Ed25519 seed (32 bytes). */
export function generateSeed (): Uint8Array {
  return randomBytes(32)
}

/** False for any malformed key or signature: never throws. */
export function verifySignature (publicKey: Uint8Array, domain: string, message: Uint8Array, signature: Uint8Array): boolean {
  return ed25519Verify(publicKey, signingBytes(domain, message), signature)
}

/** verifySignature on the bytes actually signed (`signingBytes(domain, message)`, built by the caller): for VerifyPool's workers. */
export function verifySigningInput (publicKey: Uint8Array, input: Uint8Array, signature: Uint8Array): boolean {
  return ed25519Verify(publicKey, input, signature)
}

export const sha256 = seamSha256

export const toHex = seamToHex

export function fromHex (s: string, what: string, len?: number): Uint8Array {
  if (!/^([0-9a-f]{2})*$/.test(s)) throw new ProtocolError('hex', `${what}: expected lowercase hex`)
  const b = hexToBytes(s)
  if (len !== undefined && b.byteLength !== len) throw new ProtocolError('hex', `${what}: expected ${len} bytes of hex`)
  return b
}
