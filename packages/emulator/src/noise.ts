/**
 * Deterministic pseudo-randomness for the emulator: the same device id and time always give the
 * same weather and habits, so a test or a testnet run can be replayed exactly.
 */

/** FNV-1a (32-bit) of a string: a stable salt per device. */
export function hashString (s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** A uniform number in [0, 1) for (salt, index): splitmix32-style mixing. */
export function unit (salt: number, index: number): number {
  let z = (salt ^ Math.imul(index | 0, 0x9e3779b9) ^ Math.floor(index / 0x1_0000_0000)) >>> 0
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  z = (z ^ (z >>> 16)) >>> 0
  return z / 0x1_0000_0000
}

/** Smooth noise in [0, 1): cosine interpolation between knots every `knotS` seconds. */
export function smooth (salt: number, tS: number, knotS: number): number {
  const x = tS / knotS
  const i = Math.floor(x)
  const f = (1 - Math.cos((x - i) * Math.PI)) / 2
  return unit(salt, i) * (1 - f) + unit(salt, i + 1) * f
}
