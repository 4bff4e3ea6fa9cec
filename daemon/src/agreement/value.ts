import { tallyDevices, tallyParams, segmentRows } from '@ecandle/tally'
import { decodeEntry, decodeReport, noGovernance, valueIdOf, type CID, type CutItem, type EpochValue, type Network } from '@ecandle/protocol'
import { genesisState, tally, type SegmentReport, type TallyResult, type TallyState } from '@ecandle/tally'

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
    let from = (prev?.[i]?.seq ?? 0) + 1
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

/** The tally of `v`'s segment, carried on from the basis. */
export async function tallyOf (net: Network, log: LogReader, basis: Basis | undefined, v: EpochValue): Promise<TallyResult> {
  return tally({
    epoch: v.epoch,
    params: tallyParams(net),
    devices: tallyDevices(net),
    segment: await loadSegment(log, basis?.value.cut ?? null, v.cut),
    prev: basis?.next ?? { ...genesisState(), epoch: v.epoch - 1 },
    // Valid logs never hold two reports of one (device, counter): equivocating reports are refused at
    // ingest, so every hub tallies with the same (empty) set and gets the same root.
    equivocated: new Set()
  })
}

/** This validator's value for `epoch`: every log up to its last entry stamped ≤ epoch, and the root. */
export async function buildValue (net: Network, log: LogReader, basis: Basis | undefined, epoch: number): Promise<{ id: string, value: EpochValue, tally: TallyResult }> {
  const cut: CutItem[] = []
  for (const hub of net.validatorIds) {
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
  const partial: EpochValue = { epoch, prev: basis?.valueId ?? null, cut, root: '', ...noGovernance(net) }
  const result = await tallyOf(net, log, basis, partial)
  const value = { ...partial, root: result.root }
  return { id: valueIdOf(value), value, tally: result }
}

/** The checks that need no entries: `v` extends the last decision and lowers no cut. */
export function checkExtends (v: EpochValue, basis: Basis | undefined): void {
  if (v.prev !== (basis?.valueId ?? null)) throw new InvalidValue('does not extend the last decided epoch')
  for (let i = 0; i < v.cut.length; i++) {
    const c = v.cut[i]
    if (c.seq < (basis?.value.cut[i]?.seq ?? 0)) throw new InvalidValue(`cut of ${c.hub} goes below the previous cut`)
  }
}

/** True when every log is held up to its cut. */
export function holdsCut (log: LogReader, cut: readonly CutItem[]): boolean {
  return cut.every(c => (log.head(c.hub)?.seq ?? 0) >= c.seq)
}

/**
 * valid(v) of the paper, once the entries are held: it extends the last decision, each cut names the
 * entry held at its seq, stamped with an epoch ≤ v's, and our tally gives its root. Returns that tally.
 */
export async function checkValue (net: Network, log: LogReader, basis: Basis | undefined, v: EpochValue): Promise<TallyResult> {
  checkExtends(v, basis)
  // Hubs do not run governance yet (docs/governance.md §11): a value that decides some is not one we can check.
  const none = noGovernance(net)
  if (v.gov.length > 0 || v.state !== none.state || v.next !== none.next) throw new InvalidValue('decides governance, which this hub does not run yet')
  if (!holdsCut(log, v.cut)) throw new InvalidValue('entries of the cut are not held')
  for (const c of v.cut) {
    if (c.seq === 0) continue
    const e = decodeEntry((await log.getEntry(c.hub, c.seq))!)
    if (c.id === null || !e.id.equals(c.id)) throw new InvalidValue(`cut names another entry at ${c.hub}#${c.seq}`)
    if (e.payload.epoch > v.epoch) throw new InvalidValue(`entry ${c.hub}#${c.seq} is stamped with a later epoch`)
  }
  const result = await tallyOf(net, log, basis, v)
  if (result.root !== v.root) throw new InvalidValue(`tally root differs: ours ${result.root.slice(0, 12)}`)
  return result
}
