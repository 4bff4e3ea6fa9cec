import { builderWeights, tallyDevices, tallyParams, segmentRows } from '@ecandle/tally'
import {
  carriedTally, decodeEntry, decodeReport, followValue, governanceFields, noGovernance, selectResolutions, tallyDevicesAt, tallyParamsAt, valueIdOf,
  type BuilderWeights, type CID, type CutItem, type Decided, type EpochState, type EpochValue, type Network, type VerifiedResolution
} from '@ecandle/protocol'
import { tally, type SegmentReport, type TallyResult, type TallyState } from '@ecandle/tally'

/**
 * Building and checking an epoch's value (docs/consensus.md §1): pure functions of the network, the
 * logs as held (a LogReader: the Store, or a map in tests) and the last decision they build on.
 */
export interface LogReader {
  head: (hub: string) => { seq: number, id: CID } | undefined
  getEntry: (hub: string, seq: number) => Promise<Uint8Array | undefined>
  getEntries: (hub: string, from: number, limit: number) => Promise<Uint8Array[]>
}

/** The last decision a value builds on (an EpochRecord); undefined before the first. */
export interface Basis { valueId: string, value: EpochValue, next: TallyState }

/** A proposed value this validator cannot vote for; the message says why. */
export class InvalidValue extends Error {
  override name = 'InvalidValue'
}

/**
 * The segment of an epoch: every report in entries after the previous cut up to this cut, every hub,
 * in (hub, seq, index) order. Stored entries were validated on the way in, so they are only decoded.
 */
export async function loadSegment (log: LogReader, prev: readonly CutItem[] | null, cut: readonly CutItem[]): Promise<SegmentReport[]> {
  const out: SegmentReport[] = []
  for (let i = 0; i < cut.length; i++) {
    const { hub, seq: to } = cut[i]
    // By hub, not by index: the validator set (and so the cut's hubs) may change between epochs.
    let from = prevSeq(prev, hub) + 1
    while (from <= to) {
      const page = await log.getEntries(hub, from, Math.min(256, to - from + 1))
      if (page.length === 0) throw new InvalidValue(`segment: entry ${hub}#${from} is not held`)
      for (const bytes of page) {
        const e = decodeEntry(bytes)
        out.push(...segmentRows(hub, e.payload.seq, e.payload.reports.map(decodeReport)))
        from = e.payload.seq + 1
      }
    }
  }
  return out
}

/** The seq a cut names for `hub` (0: not in it, e.g. a hub that joins the set). */
export function prevSeq (cut: readonly CutItem[] | null | undefined, hub: string): number {
  return cut?.find(c => c.hub === hub)?.seq ?? 0
}

/**
 * The tally of `v`'s segment, carried on from the basis (epoch 0: from what a continued network
 * carries), with the registry and parameters in force during v's epoch: `state` = S(E) (without it,
 * the network file's).
 */
export async function tallyOf (net: Network, log: LogReader, basis: Basis | undefined, v: EpochValue, state?: EpochState): Promise<TallyResult> {
  return tally({
    epoch: v.epoch,
    params: state === undefined ? tallyParams(net) : tallyParamsAt(state),
    devices: state === undefined ? tallyDevices(net) : tallyDevicesAt(net, state),
    segment: await loadSegment(log, basis?.value.cut ?? null, v.cut),
    prev: basis?.next ?? { ...carriedTally(net), epoch: v.epoch - 1 },
    // Valid logs never hold two reports of one (device, counter): equivocating reports are refused at
    // ingest, so every hub tallies with the same (empty) set and gets the same root.
    equivocated: new Set()
  })
}

/** Builder weights for the epoch after `basis` (cumulative totals after it; docs/governance.md §4). */
export function weightsAfter (net: Network, basis: Basis | undefined): BuilderWeights {
  return builderWeights(basis?.next ?? carriedTally(net))
}

/** Governance of a value: the state of its epoch and, for a proposer, the pool to choose from. */
export interface ValueGovernance {
  state: EpochState
  /** What the pool could include (the proposer's); `selectResolutions` picks. */
  pool?: Iterable<VerifiedResolution>
}

export interface BuiltValue { id: string, value: EpochValue, tally: TallyResult, resolutions: VerifiedResolution[], decided?: Decided }

/**
 * This validator's value for `epoch`: every log of the epoch's validators up to its last entry
 * stamped ≤ epoch, the ready resolutions of the pool (with `gov`), and the root.
 */
export async function buildValue (net: Network, log: LogReader, basis: Basis | undefined, epoch: number, gov?: ValueGovernance): Promise<BuiltValue> {
  const cut: CutItem[] = []
  for (const hub of gov?.state.validators.ids ?? net.validatorIds) {
    const prev = basis?.value.cut.find(c => c.hub === hub)
    const prevSeq = prev?.seq ?? 0
    const head = log.head(hub)
    let seq = head?.seq ?? 0
    let id = head?.id ?? null
    // Walk back past entries stamped with a later epoch (a few per epoch at most).
    while (seq > prevSeq) {
      const e = decodeEntry((await log.getEntry(hub, seq))!)
      if (e.payload.epoch <= epoch) { id = e.id; break }
      seq--
    }
    if (seq <= prevSeq) {
      seq = prevSeq
      id = prev?.id ?? null
    }
    cut.push({ hub, seq, id: seq === 0 ? null : id })
  }
  let fields = noGovernance(net)
  let resolutions: VerifiedResolution[] = []
  let decided: Decided | undefined
  if (gov !== undefined) {
    const opts = { weights: weightsAfter(net, basis) }
    resolutions = selectResolutions(gov.state, gov.pool ?? [], opts)
    const f = governanceFields(gov.state, resolutions, opts)
    fields = { gov: f.gov, state: f.state, next: f.next }
    decided = f.decided
    resolutions = f.decided.checked.map(c => c.resolution)
  }
  const partial: EpochValue = { epoch, prev: basis?.valueId ?? null, cut, root: '', ...fields }
  const result = await tallyOf(net, log, basis, partial, gov?.state)
  const value = { ...partial, root: result.root }
  return { id: valueIdOf(value), value, tally: result, resolutions, decided }
}

/** The checks that need no entries: `v` extends the last decision and lowers no cut. */
export function checkExtends (v: EpochValue, basis: Basis | undefined): void {
  if (v.prev !== (basis?.valueId ?? null)) throw new InvalidValue('does not extend the last decided epoch')
  for (const c of v.cut) {
    if (c.seq < prevSeq(basis?.value.cut, c.hub)) throw new InvalidValue(`cut of ${c.hub} goes below the previous cut`)
  }
}

/** True when every log is held up to its cut. */
export function holdsCut (log: LogReader, cut: readonly CutItem[]): boolean {
  return cut.every(c => (log.head(c.hub)?.seq ?? 0) >= c.seq)
}

/**
 * valid(v) of the paper, once the entries (and resolutions) are held: it extends the last decision,
 * its governance follows from S(E) (`followValue`: the state it names, its resolutions exactly and
 * valid, the next state), each cut names the entry held at its seq, stamped with an epoch ≤ v's, and
 * our tally with the registry and parameters of S(E) gives its root. Returns that tally and S(E+1).
 * Without `gov` (the network file alone) a value must decide nothing.
 */
export async function checkValue (net: Network, log: LogReader, basis: Basis | undefined, v: EpochValue, gov?: { state: EpochState, resolutions: readonly Uint8Array[] }): Promise<TallyResult & { decided?: Decided }> {
  checkExtends(v, basis)
  let decided: Decided | undefined
  if (gov === undefined) {
    const none = noGovernance(net)
    if (v.gov.length > 0 || v.state !== none.state || v.next !== none.next) throw new InvalidValue('decides governance, which needs the state of its epoch')
  } else {
    try {
      decided = followValue(gov.state, v, gov.resolutions, { weights: weightsAfter(net, basis) })
    } catch (err: any) {
      throw new InvalidValue(`governance: ${String(err?.code ?? '')} ${String(err?.message ?? err)}`)
    }
  }
  if (!holdsCut(log, v.cut)) throw new InvalidValue('entries of the cut are not held')
  for (const c of v.cut) {
    if (c.seq === 0) continue
    const e = decodeEntry((await log.getEntry(c.hub, c.seq))!)
    if (c.id === null || !e.id.equals(c.id)) throw new InvalidValue(`cut names another entry at ${c.hub}#${c.seq}`)
    if (e.payload.epoch > v.epoch) throw new InvalidValue(`entry ${c.hub}#${c.seq} is stamped with a later epoch`)
  }
  const result = await tallyOf(net, log, basis, v, gov?.state)
  if (result.root !== v.root) throw new InvalidValue(`tally root differs: ours ${result.root.slice(0, 12)}`)
  return { ...result, decided }
}
