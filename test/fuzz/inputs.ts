import fc from 'fast-check'
import { encode } from '@ecandle/protocol'

/**
 * Fuzz inputs for byte decoders, three ways: raw random bytes; valid samples mutated (bits
 * flipped, bytes set, cut, spliced, duplicated — the inputs that get past the first checks); and
 * random DAG-CBOR values whose map keys are mostly the protocol's own field names (the inputs that
 * decode fine and test the shape checks). `FUZZ_RUNS` sets the inputs per decoder (default 10⁴;
 * `npm run fuzz` runs 10⁵).
 */
export const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000)

const FIELD_NAMES = [
  'hub', 'seq', 'prev', 'epoch', 'time', 'reports', 'sig', 'body', 'payload', 'device', 'counter', 'periodStart', 'periodEnd',
  'energyMwh', 'solarMwh', 'litS', 'batteryMv', 'soc', 'tempDeciC', 'faults', 'kind', 'a', 'b', 'at', 'msgs', 'type', 'round',
  'from', 'valueId', 'value', 'validRound', 'cut', 'root', 'sigs', 'id', 'heads', 'limit', 'account', 'leaf', 'path', 'side',
  'hash', 'leaves', 't', 'd', 'fw', 'tm', 'r', 'c', 'st', 'why', 'ms', 'code', 'message', 'v'
]

type Op = { k: 'flip', at: number, bit: number } | { k: 'set', at: number, v: number } | { k: 'cut', at: number } |
{ k: 'insert', at: number, bytes: Uint8Array } | { k: 'delete', at: number, n: number } | { k: 'dup', at: number, n: number }

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ k: fc.constant('set' as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ k: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ k: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ k: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ k: fc.constant('dup' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 64 }) })
)

function apply (input: Uint8Array, ops: Op[]): Uint8Array {
  let b = Uint8Array.from(input)
  for (const o of ops) {
    const at = b.byteLength === 0 ? 0 : o.at % b.byteLength
    switch (o.k) {
      case 'flip': if (b.byteLength > 0) b[at] ^= 1 << o.bit; break
      case 'set': if (b.byteLength > 0) b[at] = o.v; break
      case 'cut': b = b.subarray(0, at); break
      case 'insert': b = Uint8Array.from([...b.subarray(0, at), ...o.bytes, ...b.subarray(at)]); break
      case 'delete': b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + o.n)]); break
      case 'dup': b = Uint8Array.from([...b.subarray(0, at + o.n), ...b.subarray(at, at + o.n), ...b.subarray(at + o.n)]); break
    }
  }
  return b
}

/** Random values DAG-CBOR can encode: maps (protocol field names mostly), arrays, bytes, integers, strings. */
const cborValue: fc.Arbitrary<unknown> = fc.letrec(tie => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer(), fc.nat(), fc.bigInt({ min: -(2n ** 64n) + 1n, max: 2n ** 64n - 1n }), fc.boolean(), fc.constant(null),
    fc.string({ maxLength: 80 }), fc.uint8Array({ maxLength: 300 }),
    fc.array(tie('value'), { maxLength: 8 }),
    fc.dictionary(fc.oneof(fc.constantFrom(...FIELD_NAMES), fc.string({ maxLength: 8 })), tie('value'), { maxKeys: 10 })
  )
})).value

const cborBytes: fc.Arbitrary<Uint8Array> = cborValue.map(v => {
  try { return encode(v) } catch { return new Uint8Array(0) }
})

/** Bytes for a decoder whose valid inputs are `samples`. */
export function fuzzBytes (samples: readonly Uint8Array[], maxLength = 4096): fc.Arbitrary<Uint8Array> {
  const arbs: Array<fc.Arbitrary<Uint8Array>> = [fc.uint8Array({ maxLength }), cborBytes]
  if (samples.length > 0) arbs.push(fc.tuple(fc.constantFrom(...samples), fc.array(op, { minLength: 1, maxLength: 6 })).map(([s, ops]) => apply(s, ops)))
  return fc.oneof(...arbs)
}

/** Asserts `run` never throws anything but the decoder's own error types, over RUNS inputs. */
export function neverCrashes<T> (arb: fc.Arbitrary<T>, run: (x: T) => unknown, allowed: ReadonlyArray<new (...a: any[]) => Error>, runs = RUNS): void {
  fc.assert(fc.property(arb, x => {
    try {
      const r = run(x)
      if (r instanceof Promise) throw new Error('fuzzed decoders are synchronous')
    } catch (err) {
      if (allowed.some(E => err instanceof E)) return
      throw err
    }
  }), { numRuns: runs })
}
