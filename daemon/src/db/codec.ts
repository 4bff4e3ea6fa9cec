import { decodeValue, expectMap, expectString, ProtocolError, type EpochValue, type ValidatorSet } from '@ecandle/protocol'

/**
 * Field codecs shared by the repositories. Amounts are bigints in memory and decimal strings on
 * disk: @ipld/dag-cbor reads an integer back as a number below 2^53 and as a bigint above, and CBOR
 * integers end at 64 bits, while a cumulative reward has no bound; a string is exact at any size and
 * reads back one way.
 */
const DECIMAL = /^(0|[1-9][0-9]*)$/

export const amount = (v: bigint): string => v.toString()

export function readAmount (v: unknown, what: string): bigint {
  if (typeof v !== 'string' || v.length > 200 || !DECIMAL.test(v)) throw new ProtocolError('shape', `${what}: expected a decimal string`)
  return BigInt(v)
}

/** An EpochValue as a DAG-CBOR map (the same fields as its signed form). */
export function valueFields (v: EpochValue): Record<string, unknown> {
  return { epoch: v.epoch, prev: v.prev, cut: v.cut.map(c => ({ hub: c.hub, seq: c.seq, id: c.id })), root: v.root, gov: v.gov, state: v.state, next: v.next }
}

/**
 * A stored value: it was checked (against the validators of its epoch) before it was stored, so its
 * cut is read as it is, naming the hubs of its own epoch's set.
 */
export function readValue (x: unknown): EpochValue {
  const cut = (x as { cut?: unknown } | null)?.cut
  const ids = Array.isArray(cut) ? cut.map(c => (c as { hub?: unknown } | null)?.hub) : []
  return decodeValue(x, { ids } as unknown as ValidatorSet)
}

export function readList (v: unknown, what: string, max: number): unknown[] {
  if (!Array.isArray(v) || v.length > max) throw new ProtocolError('shape', `${what}: expected a list of at most ${max}`)
  return v
}

export const readId = (v: unknown, what: string): string => expectString(v, what, 256)

export { expectMap }
