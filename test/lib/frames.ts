/** A length prefix (unsigned varint), as it-length-prefixed frames: for tests that write raw streams. */
export function varint (n: number): Uint8Array {
  const out: number[] = []
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    out.push(b)
  } while (n > 0)
  return Uint8Array.from(out)
}

/** One length-prefixed frame. */
export const frame = (b: Uint8Array): Uint8Array => Buffer.concat([varint(b.byteLength), b])
