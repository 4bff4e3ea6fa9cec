/**
 * Canonical leaf encoding: DAG-CBOR maps (keys in DAG-CBOR canonical order,
 * i.e. shorter keys first, then bytewise). `k` tags the kind, `epoch` is a
 * CBOR unsigned integer, and every bigint quantity (token amounts and summed
 * mWh) is a CBOR text string of decimal digits with no sign and no leading
 * zeros ("0" for zero). Strings keep amounts exact beyond 64 bits, which
 * DAG-CBOR integers cannot, and stay readable in any CBOR tool.
 */
import * as dagCbor from '@ipld/dag-cbor'
import type { AccountLeaf, DeviceLeaf, Leaf, SummaryLeaf } from './types.js'
import { compareBytes } from './merkle.js'

const DECIMAL = /^(0|[1-9][0-9]*)$/

export function bigintToDecimal (n: bigint): string {
  if (typeof n !== 'bigint' || n < 0n) throw new RangeError(`leaf amount must be a non-negative bigint, got ${String(n)}`)
  return n.toString(10)
}

export function decimalToBigint (s: unknown): bigint {
  if (typeof s !== 'string' || !DECIMAL.test(s)) throw new TypeError(`leaf amount is not a canonical decimal string: ${String(s)}`)
  return BigInt(s)
}

function checkEpoch (epoch: number): number {
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`leaf epoch must be a non-negative safe integer, got ${epoch}`)
  return epoch
}

export function encodeAccountLeaf (l: Omit<AccountLeaf, 'k'>): Uint8Array {
  return dagCbor.encode({
    k: 'a',
    account: l.account,
    epoch: checkEpoch(l.epoch),
    amount: bigintToDecimal(l.amount),
    cumulative: bigintToDecimal(l.cumulative)
  })
}

export function encodeDeviceLeaf (l: Omit<DeviceLeaf, 'k'>): Uint8Array {
  return dagCbor.encode({
    k: 'd',
    device: l.device,
    epoch: checkEpoch(l.epoch),
    mwh: bigintToDecimal(l.mwh),
    reward: bigintToDecimal(l.reward),
    capex: bigintToDecimal(l.capex),
    opex: bigintToDecimal(l.opex)
  })
}

export function encodeSummaryLeaf (l: Omit<SummaryLeaf, 'k'>): Uint8Array {
  return dagCbor.encode({
    k: 's',
    epoch: checkEpoch(l.epoch),
    mwh: bigintToDecimal(l.mwh),
    paid: bigintToDecimal(l.paid),
    dust: bigintToDecimal(l.dust),
    emission: bigintToDecimal(l.emission)
  })
}

export function encodeLeaf (l: Leaf): Uint8Array {
  switch (l.k) {
    case 'a':
      return encodeAccountLeaf(l)
    case 'd':
      return encodeDeviceLeaf(l)
    case 's':
      return encodeSummaryLeaf(l)
  }
}

function keysExactly (o: Record<string, unknown>, keys: string[]): boolean {
  const have = Object.keys(o)
  return have.length === keys.length && keys.every((k) => Object.prototype.hasOwnProperty.call(o, k))
}

/**
 * Decodes leaf bytes into a typed leaf with bigint amounts. Throws TypeError
 * unless the bytes are exactly the canonical encoding of a well-formed leaf.
 */
export function decodeLeaf (bytes: Uint8Array): Leaf {
  let raw: unknown
  try {
    raw = dagCbor.decode(bytes)
  } catch (e) {
    throw new TypeError(`leaf is not valid DAG-CBOR: ${(e as Error).message}`)
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new TypeError('leaf is not a map')
  const o = raw as Record<string, unknown>
  const str = (v: unknown, name: string): string => {
    if (typeof v !== 'string') throw new TypeError(`leaf field ${name} must be a string`)
    return v
  }
  const epoch = o.epoch
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 0) throw new TypeError('leaf epoch must be a non-negative integer')
  let leaf: Leaf
  switch (o.k) {
    case 'a':
      if (!keysExactly(o, ['k', 'account', 'epoch', 'amount', 'cumulative'])) throw new TypeError('account leaf has wrong fields')
      leaf = { k: 'a', account: str(o.account, 'account'), epoch, amount: decimalToBigint(o.amount), cumulative: decimalToBigint(o.cumulative) }
      break
    case 'd':
      if (!keysExactly(o, ['k', 'device', 'epoch', 'mwh', 'reward', 'capex', 'opex'])) throw new TypeError('device leaf has wrong fields')
      leaf = {
        k: 'd',
        device: str(o.device, 'device'),
        epoch,
        mwh: decimalToBigint(o.mwh),
        reward: decimalToBigint(o.reward),
        capex: decimalToBigint(o.capex),
        opex: decimalToBigint(o.opex)
      }
      break
    case 's':
      if (!keysExactly(o, ['k', 'epoch', 'mwh', 'paid', 'dust', 'emission'])) throw new TypeError('summary leaf has wrong fields')
      leaf = { k: 's', epoch, mwh: decimalToBigint(o.mwh), paid: decimalToBigint(o.paid), dust: decimalToBigint(o.dust), emission: decimalToBigint(o.emission) }
      break
    default:
      throw new TypeError(`unknown leaf kind ${String(o.k)}`)
  }
  if (compareBytes(encodeLeaf(leaf), bytes) !== 0) throw new TypeError('leaf bytes are not canonical')
  return leaf
}
