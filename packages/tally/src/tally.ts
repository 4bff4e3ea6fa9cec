/**
 * Deterministic integer reward tally of one epoch's segment. Pure: no I/O,
 * clocks or randomness; the result depends only on the input values, never on
 * the order of `input.segment` or the iteration order of the input maps/sets.
 * See README.md for the rules and a worked example.
 *
 * Counters are unique per device, not increasing: a late report (a counter
 * below counters counted in earlier epochs) is counted like any other. The
 * tally only judges (device, counter) collisions inside the segment
 * ('duplicate', 'equivocated'); that a counter is not reused across epochs is
 * guaranteed by log validation (chain rule `counter-reused`), which sees the
 * whole log, so the tally carries no per-device counter state.
 */
import { implausibility } from './plausibility.js'
import { encodeAccountLeaf, encodeDeviceLeaf, encodeSummaryLeaf } from './leaf.js'
import { MerkleTree, compareBytes } from './merkle.js'
import type {
  AccountRow,
  DeviceInfo,
  DeviceRow,
  ReasonCode,
  ReportStatus,
  SegmentReport,
  TallyInput,
  TallyResult,
  TreeParts,
  TallyState
} from './types.js'

const BPS = 10000n

/** The state before the first epoch (epoch 0 is the first one tallied). */
export function genesisState (): TallyState {
  return { epoch: -1, dust: 0n, cumulative: new Map() }
}

/** Key used for device+counter in `TallyInput.equivocated`. */
export function counterKey (device: string, counter: number): string {
  return `${device}:${counter}`
}

function cmpStr (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Canonical segment order: hub (UTF-16 code unit order), then seq, then index. */
export function compareReports (a: SegmentReport, b: SegmentReport): number {
  return cmpStr(a.hub, b.hub) || a.seq - b.seq || a.index - b.index
}

function isNonNegSafeInt (x: number): boolean {
  return Number.isSafeInteger(x) && x >= 0
}

/**
 * Plausibility: the one rule (`implausibility`, plausibility.ts, docs/protocol.md §3) that log
 * validation applies too, after a check that the numbers are well-formed (counter,
 * periodStart, periodEnd, energyMwh and the device's rating non-negative safe integers; solarMwh and
 * litS finite and >= 0). A report decoded from a log always passes the latter; the tally is also a
 * library fed by other code.
 */
export function isPlausible (r: SegmentReport, dev: DeviceInfo): boolean {
  if (!isNonNegSafeInt(r.counter)) return false
  if (!isNonNegSafeInt(r.periodStart) || !isNonNegSafeInt(r.periodEnd)) return false
  if (!isNonNegSafeInt(r.energyMwh)) return false
  if (!(Number.isFinite(r.solarMwh) && r.solarMwh >= 0)) return false
  if (!(Number.isFinite(r.litS) && r.litS >= 0)) return false
  if (!isNonNegSafeInt(dev.ratedWhPerDay)) return false
  return implausibility(r, dev.ratedWhPerDay) === undefined
}

function validate (input: TallyInput): void {
  const { epoch, params, prev } = input
  if (!Number.isSafeInteger(prev.epoch) || prev.epoch < -1) throw new RangeError(`prev.epoch must be an integer >= -1, got ${prev.epoch}`)
  if (epoch !== prev.epoch + 1) throw new RangeError(`epoch must be prev.epoch + 1 = ${prev.epoch + 1}, got ${epoch}`)
  if (typeof params.emissionPerEpoch !== 'bigint' || params.emissionPerEpoch < 0n) throw new RangeError('params.emissionPerEpoch must be a bigint >= 0')
  if (!Number.isInteger(params.capexBps) || params.capexBps < 0 || params.capexBps > 10000) throw new RangeError('params.capexBps must be an integer 0..10000')
  if (typeof params.deviceCapMwhPerEpoch !== 'bigint' || params.deviceCapMwhPerEpoch < 0n) throw new RangeError('params.deviceCapMwhPerEpoch must be a bigint >= 0')
  if (typeof prev.dust !== 'bigint' || prev.dust < 0n) throw new RangeError('prev.dust must be a bigint >= 0')
  for (const [account, amount] of prev.cumulative) {
    if (typeof amount !== 'bigint' || amount < 0n) throw new RangeError(`prev.cumulative of ${account} must be a bigint >= 0`)
  }
  for (const r of input.segment) {
    if (typeof r.hub !== 'string' || typeof r.device !== 'string' || typeof r.reportId !== 'string') {
      throw new TypeError('segment report hub, device and reportId must be strings')
    }
    if (!isNonNegSafeInt(r.seq) || !isNonNegSafeInt(r.index)) throw new RangeError(`segment report seq/index must be non-negative safe integers (hub ${r.hub})`)
    if (typeof r.counter !== 'number') throw new TypeError('segment report counter must be a number')
  }
}

interface CounterEntry {
  firstId: string
  equivocated: boolean
  /** A report with this device+counter already reached the duplicate check. */
  seen: boolean
}

interface DeviceAcc {
  info: DeviceInfo | undefined
  counted: bigint
  counters: Map<number, CounterEntry>
}

/** Tallies one epoch. Throws RangeError/TypeError on malformed input (never silently). */
export function tally (input: TallyInput): TallyResult {
  validate(input)
  const { epoch, params, devices, prev, equivocated } = input
  const cap = params.deviceCapMwhPerEpoch

  const segment = input.segment.slice().sort(compareReports)
  for (let i = 1; i < segment.length; i++) {
    if (compareReports(segment[i - 1], segment[i]) === 0) {
      const r = segment[i]
      throw new RangeError(`duplicate segment position hub=${r.hub} seq=${r.seq} index=${r.index}`)
    }
  }

  // Pass 1: per device, per counter, the first reportId seen; a second,
  // different reportId for the same device+counter marks it equivocated.
  // (Nested maps keyed by the input strings and numbers keep this O(1) per
  // report without building "device:counter" strings.)
  const byDevice = new Map<string, DeviceAcc>()
  const accs: DeviceAcc[] = new Array(segment.length)
  const entries: CounterEntry[] = new Array(segment.length)
  for (let i = 0; i < segment.length; i++) {
    const r = segment[i]
    let acc = byDevice.get(r.device)
    if (acc === undefined) {
      acc = { info: devices.get(r.device), counted: 0n, counters: new Map() }
      byDevice.set(r.device, acc)
    }
    let e = acc.counters.get(r.counter)
    if (e === undefined) {
      e = { firstId: r.reportId, equivocated: false, seen: false }
      acc.counters.set(r.counter, e)
    } else if (e.firstId !== r.reportId) {
      e.equivocated = true
    }
    accs[i] = acc
    entries[i] = e
  }
  // Evidence keys "device:counter" (split at the last ':'); keys naming no report of the segment have no effect.
  for (const key of equivocated) {
    const at = key.lastIndexOf(':')
    if (at < 0) continue
    const e = byDevice.get(key.slice(0, at))?.counters
    if (e === undefined) continue
    const c = key.slice(at + 1)
    const n = Number(c)
    if (String(n) !== c) continue
    const entry = e.get(n)
    if (entry !== undefined) entry.equivocated = true
  }

  // Pass 2: status of every report, in canonical order.
  const statuses: ReportStatus[] = new Array(segment.length)
  for (let i = 0; i < segment.length; i++) {
    const r = segment[i]
    const acc = accs[i]
    const entry = entries[i]
    const dev = acc.info
    let reason: ReasonCode | null = null
    let counted = 0
    let partial = false
    if (dev === undefined) {
      reason = 'unregistered'
    } else if (entry.equivocated) {
      reason = 'equivocated'
    } else if (dev.retired === true) {
      reason = 'retired'
    } else if (dev.hub !== r.hub) {
      reason = 'wrong-hub'
    } else if (dev.activeFromS !== undefined && !(r.periodStart >= dev.activeFromS)) {
      // Before the registration (or the move to this hub) took effect: a report made earlier, logged late.
      reason = 'not-yet-registered'
    } else if (!isPlausible(r, dev)) {
      reason = 'implausible'
    } else if (entry.seen) {
      // Same device+counter (hence, not being equivocated, same reportId) already judged in this segment.
      reason = 'duplicate'
    } else {
      entry.seen = true
      const already = acc.counted
      if (already >= cap) {
        reason = 'over-cap'
      } else {
        const room = cap - already
        const e = BigInt(r.energyMwh)
        if (e > room) {
          counted = Number(room)
          partial = true
          acc.counted = cap
        } else {
          counted = r.energyMwh
          acc.counted = already + e
        }
      }
    }
    statuses[i] = {
      hub: r.hub,
      seq: r.seq,
      index: r.index,
      reportId: r.reportId,
      device: r.device,
      counter: r.counter,
      status: reason === null ? 'counted' : 'rejected',
      reason,
      countedMwh: counted,
      partial
    }
  }

  // Rewards, per device (sorted by id), bigint floor.
  const distributable = params.emissionPerEpoch + prev.dust
  const deviceIds = [...byDevice.keys()].filter((d) => byDevice.get(d)!.counted > 0n).sort(cmpStr)
  let totalMwh = 0n
  for (const d of deviceIds) totalMwh += byDevice.get(d)!.counted

  const bps = BigInt(params.capexBps)
  const epochAmount = new Map<string, bigint>()
  const credit = (account: string, amount: bigint): void => {
    epochAmount.set(account, (epochAmount.get(account) ?? 0n) + amount)
  }
  const deviceRows: DeviceRow[] = []
  let paid = 0n
  for (const d of deviceIds) {
    const { info, counted: mwh } = byDevice.get(d)!
    if (info === undefined) throw new Error('unreachable: counted energy for an unregistered device')
    const reward = (distributable * mwh) / totalMwh
    const capex = (reward * bps) / BPS
    const opex = reward - capex
    paid += reward
    credit(info.capex, capex)
    credit(info.opex, opex)
    deviceRows.push({ device: d, countedMwh: mwh, reward, capex, opex, capexAccount: info.capex, opexAccount: info.opex })
  }
  const dust = distributable - paid

  // Accounts: everything previously known plus everything credited this epoch.
  const accountIds = new Set<string>(prev.cumulative.keys())
  for (const a of epochAmount.keys()) accountIds.add(a)
  const accountRows: AccountRow[] = [...accountIds].sort(cmpStr).map((account) => {
    const amount = epochAmount.get(account) ?? 0n
    return { account, epochAmount: amount, cumulative: (prev.cumulative.get(account) ?? 0n) + amount }
  })

  const totals = { countedMwh: totalMwh, emission: params.emissionPerEpoch, prevDust: prev.dust, distributable, paid, dust }

  const next: TallyState = {
    epoch,
    dust,
    cumulative: new Map(accountRows.map((a) => [a.account, a.cumulative]))
  }

  const result: TallyResult = { epoch, statuses, devices: deviceRows, accounts: accountRows, totals, root: '', next }
  result.root = indexedTree(result).tree.root
  return result
}

interface IndexedTree {
  tree: MerkleTree
  /** leaf identity ("a:<account>", "d:<device>", "s:") -> position in the sorted leaves */
  index: Map<string, number>
}

const treeCache = new WeakMap<TreeParts, IndexedTree>()

function indexedTree (result: TreeParts): IndexedTree {
  const cached = treeCache.get(result)
  if (cached !== undefined) return cached
  const { epoch } = result
  const items: { id: string, bytes: Uint8Array }[] = []
  for (const a of result.accounts) {
    items.push({ id: `a:${a.account}`, bytes: encodeAccountLeaf({ account: a.account, epoch, amount: a.epochAmount, cumulative: a.cumulative }) })
  }
  for (const d of result.devices) {
    items.push({ id: `d:${d.device}`, bytes: encodeDeviceLeaf({ device: d.device, epoch, mwh: d.countedMwh, reward: d.reward, capex: d.capex, opex: d.opex }) })
  }
  const t = result.totals
  items.push({ id: 's:', bytes: encodeSummaryLeaf({ epoch, mwh: t.countedMwh, paid: t.paid, dust: t.dust, emission: t.emission }) })
  items.sort((x, y) => compareBytes(x.bytes, y.bytes))
  const tree = new MerkleTree(items.map((x) => x.bytes))
  const index = new Map(items.map((x, i) => [x.id, i] as const))
  const it = { tree, index }
  treeCache.set(result, it)
  return it
}

/**
 * Merkle tree of a tally result (leaves sorted by their bytes). Memoised per
 * result object: do not mutate a result after proving from it.
 */
export function buildTree (result: TreeParts): MerkleTree {
  return indexedTree(result).tree
}

/** Sorted canonical leaf bytes of a tally result. */
export function tallyLeaves (result: TreeParts): Uint8Array[] {
  return buildTree(result).leaves.slice()
}

/** Position of a leaf in the sorted leaves, or undefined. `kind` 'a' = account, 'd' = device, 's' = summary (id ''). */
export function leafIndex (result: TreeParts, kind: 'a' | 'd' | 's', id: string): number | undefined {
  return indexedTree(result).index.get(`${kind}:${kind === 's' ? '' : id}`)
}
