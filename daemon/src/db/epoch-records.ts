import { encode, decodeCanonical, expectString, expectUint, ProtocolError, type EpochValue } from '@ecandle/protocol'
import { Bucket, Repository, u64Key, type Store } from '@ecandle/store'
import type { AccountRow, DeviceRow, TallyResult, TallyState, TallyTotals } from '@ecandle/tally'
import { amount, expectMap, readAmount, readId, readList, readValue, valueFields } from './codec.js'

/** What a hub keeps for each decided epoch, besides the certificate. */
export interface EpochRecord {
  epoch: number
  valueId: string
  value: EpochValue
  totals: TallyResult['totals']
  devices: TallyResult['devices']
  accounts: TallyResult['accounts']
  /** Carried into the next epoch's tally. */
  next: TallyState
}

const TOTALS = ['countedMwh', 'emission', 'prevDust', 'distributable', 'paid', 'dust'] as const
const MAX_ROWS = 10_000_000
const HEX64 = /^[0-9a-f]{64}$/

/**
 * DAG-CBOR:
 *   { epoch, valueId, value: EpochValue, totals: { countedMwh, emission, prevDust, distributable, paid, dust },
 *     devices: [{ device, countedMwh, reward, capex, opex, capexAccount, opexAccount }],
 *     accounts: [{ account, epochAmount, cumulative }],
 *     next: { epoch, dust, cumulative: [[account, amount]] (by account) } }
 * every amount a decimal string (codec.ts says why).
 */
export function encodeEpochRecord (r: EpochRecord): Uint8Array {
  return encode({
    epoch: r.epoch,
    valueId: r.valueId,
    value: valueFields(r.value),
    totals: Object.fromEntries(TOTALS.map(k => [k, amount(r.totals[k])])),
    devices: r.devices.map(d => ({ device: d.device, countedMwh: amount(d.countedMwh), reward: amount(d.reward), capex: amount(d.capex), opex: amount(d.opex), capexAccount: d.capexAccount, opexAccount: d.opexAccount })),
    accounts: r.accounts.map(a => ({ account: a.account, epochAmount: amount(a.epochAmount), cumulative: amount(a.cumulative) })),
    next: { epoch: r.next.epoch, dust: amount(r.next.dust), cumulative: [...r.next.cumulative].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([a, v]) => [a, amount(v)]) }
  })
}

export function decodeEpochRecord (bytes: Uint8Array): EpochRecord {
  const m = expectMap(decodeCanonical(bytes, 'epoch record'), 'epoch record', ['epoch', 'valueId', 'value', 'totals', 'devices', 'accounts', 'next'])
  const t = expectMap(m.totals, 'totals', TOTALS)
  const totals = Object.fromEntries(TOTALS.map(k => [k, readAmount(t[k], `totals.${k}`)])) as unknown as TallyTotals
  const devices = readList(m.devices, 'devices', MAX_ROWS).map((x, i): DeviceRow => {
    const d = expectMap(x, `devices[${i}]`, ['device', 'countedMwh', 'reward', 'capex', 'opex', 'capexAccount', 'opexAccount'])
    return {
      device: readId(d.device, `devices[${i}].device`),
      countedMwh: readAmount(d.countedMwh, `devices[${i}].countedMwh`),
      reward: readAmount(d.reward, `devices[${i}].reward`),
      capex: readAmount(d.capex, `devices[${i}].capex`),
      opex: readAmount(d.opex, `devices[${i}].opex`),
      capexAccount: readId(d.capexAccount, `devices[${i}].capexAccount`),
      opexAccount: readId(d.opexAccount, `devices[${i}].opexAccount`)
    }
  })
  const accounts = readList(m.accounts, 'accounts', MAX_ROWS).map((x, i): AccountRow => {
    const a = expectMap(x, `accounts[${i}]`, ['account', 'epochAmount', 'cumulative'])
    return { account: readId(a.account, `accounts[${i}].account`), epochAmount: readAmount(a.epochAmount, `accounts[${i}].epochAmount`), cumulative: readAmount(a.cumulative, `accounts[${i}].cumulative`) }
  })
  const n = expectMap(m.next, 'next', ['epoch', 'dust', 'cumulative'])
  const cumulative = new Map(readList(n.cumulative, 'next.cumulative', MAX_ROWS).map((x, i): [string, bigint] => {
    if (!Array.isArray(x) || x.length !== 2) throw new ProtocolError('shape', `next.cumulative[${i}]: expected [account, amount]`)
    return [readId(x[0], `next.cumulative[${i}][0]`), readAmount(x[1], `next.cumulative[${i}][1]`)]
  }))
  return {
    epoch: expectUint(m.epoch, 'epoch'),
    valueId: expectString(m.valueId, 'valueId', 64, HEX64),
    value: readValue(m.value),
    totals,
    devices,
    accounts,
    next: { epoch: expectUint(n.epoch, 'next.epoch'), dust: readAmount(n.dust, 'next.dust'), cumulative }
  }
}

/** Decided epochs' records, epoch → EpochRecord. */
export class EpochRecordRepository extends Repository<number, EpochRecord> {
  constructor (store: Store) {
    super(store, Bucket.epochRecord, u64Key, { encode: encodeEpochRecord, decode: (b) => decodeEpochRecord(b) })
  }
}
