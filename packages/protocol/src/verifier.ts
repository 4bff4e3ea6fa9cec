import { ed25519VerifyBatch } from '@ecandle/crypto'
import { signingBytes } from './crypto.js'

/** One Ed25519 signature to check: `signature` over `domain` 0x00 `message` by `publicKey` (raw 32 bytes). */
export interface SignatureCheck {
  publicKey: Uint8Array
  domain: string
  message: Uint8Array
  signature: Uint8Array
}

/** Checks signatures off the caller's thread. Never rejects: a check that cannot run is verified inline. */
export interface SignatureVerifier {
  /** One result per check, in order. */
  verifyAll: (checks: readonly SignatureCheck[]) => Promise<boolean[]>
}

/** The crypto seam's batch: parallel WebCrypto in a browser, inline calls in Node. */
const seamVerifier: SignatureVerifier = {
  verifyAll: async (checks) => await ed25519VerifyBatch(checks.map(c => [c.publicKey, signingBytes(c.domain, c.message), c.signature] as const))
}

let make: (() => SignatureVerifier) | undefined

/**
 * The verifier of the async validators when the caller names none. In Node the package's entry
 * (index.node.ts) sets it to the process-wide VerifyPool (worker threads); elsewhere it is the seam's batch.
 */
export function defaultVerifier (): SignatureVerifier {
  return make?.() ?? seamVerifier
}

/** Sets what defaultVerifier() returns (a factory, so nothing starts until a check is asked for). */
export function setDefaultVerifier (factory: () => SignatureVerifier): void {
  make = factory
}
