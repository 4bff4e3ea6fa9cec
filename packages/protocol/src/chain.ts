import type { CID } from 'multiformats/cid'
import { rules } from './errors.js'
import type { VerifiedEntry } from './entry.js'

/** What a node knows of one hub's log: its head. */
export interface Head {
  seq: number
  id: CID
  /** Unix ms of the head entry. */
  time: number
}

/** Codes of the stateful rules for appending to a log (docs/protocol.md §5). */
export const APPEND_CODES = ['known-seq', 'gap', 'fork', 'time-backwards', 'counter-reused'] as const
export type AppendCode = typeof APPEND_CODES[number]

const appendRule = rules<AppendCode>()

/**
 * The stateful rules for appending `e` to a hub log whose head is `head` (undefined: empty log).
 * `used(device, counter)` tells whether the log already holds a report with that counter.
 * Counters must be unique per device, not increasing across entries: a device that resends an
 * older unacknowledged report after a newer one was logged must not lose it.
 * Returns nothing when `e` extends the log; throws a ValidationError otherwise.
 * (An entry at a seq we already hold is the caller's business: duplicate or equivocation.)
 */
export function checkAppend (head: Head | undefined, e: VerifiedEntry, used: (device: string, counter: number) => boolean): void {
  const p = e.payload
  const headSeq = head?.seq ?? 0
  // Already have this seq: the caller compares bytes (duplicate → IGNORE, different → evidence).
  if (p.seq <= headSeq) throw appendRule.ignore('known-seq', `entry ${p.hub}#${p.seq}: log is already at ${headSeq}`)
  // Gap: we lack entries before it. Not the sender's fault; queue it and ask sync.
  if (p.seq > headSeq + 1) throw appendRule.ignore('gap', `entry ${p.hub}#${p.seq}: log is at ${headSeq}`)
  if (head !== undefined) {
    // The link must name our head. If not, the hub signed two different entries at seq−1 (a fork);
    // we cannot prove it from this message alone, so ignore it and let evidence come from sync.
    if (p.prev === null || !p.prev.equals(head.id)) throw appendRule.ignore('fork', `entry ${p.hub}#${p.seq}: prev is not our entry #${head.seq}`)
    // A hub's clock in its own log never goes back.
    if (p.time < head.time) throw appendRule.reject('time-backwards', `entry ${p.hub}#${p.seq}: time before entry #${head.seq}`)
  }
  // A device counter is never reused: no report may take a counter already in the log.
  for (const r of e.reports) {
    if (used(r.report.device, r.report.counter)) {
      throw appendRule.reject('counter-reused', `entry ${p.hub}#${p.seq}: device ${r.report.device} counter ${r.report.counter} is already in the log`)
    }
  }
}
