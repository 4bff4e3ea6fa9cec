/**
 * What the crypto seam offers, in Node (node.ts: node:crypto, OpenSSL) and in browsers (browser.ts:
 * WebCrypto where it has Ed25519, pure-JS noble otherwise). Both give the same answer for every
 * input: SHA-256 is SHA-256, and Ed25519 is verified by the rule OpenSSL and BoringSSL apply
 * (RFC 8032 cofactorless: S < L, [S]B − [k]A encodes to R byte for byte). The package's `exports`
 * pick the file: the "browser" condition (bundlers) gets browser.js, Node gets node.js.
 */
export interface Ed25519Signer {
  /** Raw 32-byte public key. */
  readonly publicKey: Uint8Array
  /** Signs the bytes as given (no domain tag added here). */
  sign: (message: Uint8Array) => Uint8Array
}

/** One signature check of a batch: raw public key, the signed bytes, 64-byte signature. */
export type VerifyItem = readonly [publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array]

export interface CryptoApi {
  /** Which implementation runs ('node:crypto', 'webcrypto' or 'noble'; the browser's settles on first use). */
  backend: () => string
  sha256: (...parts: Uint8Array[]) => Uint8Array
  /** Never throws: a malformed key or signature is a failed check. */
  ed25519Verify: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean
  /** Many checks at once (WebCrypto runs them in parallel off the main thread). */
  ed25519VerifyBatch: (items: readonly VerifyItem[]) => Promise<boolean[]>
  /**
   * Runs `fn`, a synchronous function that verifies signatures with ed25519Verify, with its
   * signatures checked up front as one batch where the fast verifier is asynchronous (WebCrypto).
   * `fn` runs twice there (first to learn which signatures it checks); in Node it runs once.
   */
  withBatchVerify: <T>(fn: () => T) => Promise<T>
  /** `seed`: 32 bytes. */
  ed25519Signer: (seed: Uint8Array) => Ed25519Signer
  randomBytes: (n: number) => Uint8Array
  /** Lowercase hex. */
  toHex: (b: Uint8Array) => string
  /** Hex (either case) to bytes; the caller checks the form (a stray character ends the bytes early in Node). */
  hexToBytes: (s: string) => Uint8Array
  toBase64: (b: Uint8Array) => string
  fromBase64: (s: string) => Uint8Array
  /** Lexicographic byte order (a proper prefix sorts first). */
  compareBytes: (a: Uint8Array, b: Uint8Array) => number
  utf8: (s: string) => Uint8Array
}
