import assert from 'node:assert/strict'
import { checkAppend, verifyEntry, type Head, type VerifiedEntry } from '../src/index.js'
import { DEV_A, DEV_A2, GENESIS, NOW_MS, chainNet, entry, expectValidation, signed, type EntryOpts } from './fixtures.js'

const T = (GENESIS + 400) * 1000
const mk = (o: EntryOpts): VerifiedEntry => verifyEntry(chainNet, entry({ network: chainNet, time: T, ...o }), NOW_MS)
const headOf = (e: VerifiedEntry): Head => ({ seq: e.payload.seq, id: e.id, time: e.payload.time })
const none = (): boolean => false
/** `used` for a log holding exactly these (device, counter) pairs. */
const counters = (m: Record<string, number | number[]>) => (d: string, c: number): boolean => [m[d] ?? []].flat().includes(c)

describe('checkAppend', () => {
  const e1 = mk({ seq: 1, reports: [signed({ counter: 1 })] })
  const e2 = mk({ seq: 2, prev: e1.id, time: T + 5000, reports: [signed({ counter: 2 })] })

  it('accepts seq 1 on an empty log and seq n+1 linked to the head', () => {
    checkAppend(undefined, e1, none)
    checkAppend(headOf(e1), e2, counters({ [DEV_A]: 1 }))
  })

  it('passes device and counter of every report to `used`', () => {
    const seen: string[] = []
    const mixed = mk({ seq: 2, prev: e1.id, time: T + 5000, reports: [signed({ counter: 9 }), signed({ device: DEV_A2, counter: 4 })] })
    checkAppend(headOf(e1), mixed, (d, c) => { seen.push(`${d}#${c}`); return false })
    assert.deepEqual(seen, [`${DEV_A}#9`, `${DEV_A2}#4`])
  })

  it('known seq → IGNORE (the same entry again, or another entry at that seq)', () => {
    expectValidation(() => checkAppend(headOf(e1), e1, counters({ [DEV_A]: 1 })), 'IGNORE', 'known-seq')
    expectValidation(() => checkAppend(headOf(e2), e1, counters({ [DEV_A]: 2 })), 'IGNORE', 'known-seq')
    const other1 = mk({ seq: 1, reports: [signed({ counter: 1, energyMwh: 7 })] })
    expectValidation(() => checkAppend(headOf(e1), other1, counters({ [DEV_A]: 1 })), 'IGNORE', 'known-seq')
  })

  it('gap → IGNORE (empty log and seq 2; head 1 and seq 3)', () => {
    expectValidation(() => checkAppend(undefined, e2, none), 'IGNORE', 'gap')
    const e3 = mk({ seq: 3, prev: e2.id, time: T + 9000, reports: [signed({ counter: 3 })] })
    expectValidation(() => checkAppend(headOf(e1), e3, counters({ [DEV_A]: 1 })), 'IGNORE', 'gap')
  })

  it('fork: prev is not our head → IGNORE', () => {
    const other1 = mk({ seq: 1, reports: [signed({ counter: 1, energyMwh: 7 })] })
    const forked = mk({ seq: 2, prev: other1.id, time: T + 5000, reports: [signed({ counter: 2 })] })
    expectValidation(() => checkAppend(headOf(e1), forked, counters({ [DEV_A]: 1 })), 'IGNORE', 'fork')
    checkAppend(headOf(other1), forked, counters({ [DEV_A]: 1 }))
  })

  it('time going backwards → REJECT (equal time is fine)', () => {
    const back = mk({ seq: 2, prev: e1.id, time: T - 1, reports: [signed({ counter: 2 })] })
    expectValidation(() => checkAppend(headOf(e1), back, counters({ [DEV_A]: 1 })), 'REJECT', 'time-backwards')
    const same = mk({ seq: 2, prev: e1.id, time: T, reports: [signed({ counter: 2 })] })
    checkAppend(headOf(e1), same, counters({ [DEV_A]: 1 }))
  })

  it('counter already in the log → REJECT; per device; a lower unused counter (a late resend) is fine', () => {
    expectValidation(() => checkAppend(headOf(e1), e2, counters({ [DEV_A]: 2 })), 'REJECT', 'counter-reused', `${DEV_A} counter 2`)
    expectValidation(() => checkAppend(headOf(e1), e2, counters({ [DEV_A]: [1, 2, 3] })), 'REJECT', 'counter-reused')
    checkAppend(headOf(e1), e2, counters({ [DEV_A]: [1, 3, 5] }))
    checkAppend(headOf(e1), e2, counters({ [DEV_A2]: 2 }))
    // a later report of the entry is the offending one
    const mixed = mk({ seq: 2, prev: e1.id, time: T + 5000, reports: [signed({ counter: 9 }), signed({ device: DEV_A2, counter: 4 })] })
    checkAppend(headOf(e1), mixed, counters({ [DEV_A]: [8, 10], [DEV_A2]: [3, 5] }))
    expectValidation(() => checkAppend(headOf(e1), mixed, counters({ [DEV_A]: 8, [DEV_A2]: [3, 4] })), 'REJECT', 'counter-reused', DEV_A2)
    // the rule is applied on seq 1 too
    expectValidation(() => checkAppend(undefined, e1, counters({ [DEV_A]: 1 })), 'REJECT', 'counter-reused')
  })

  it('the IGNORE rules win over the REJECT rules (a stale entry is not punished)', () => {
    // known seq with a reused counter is just a known seq
    expectValidation(() => checkAppend(headOf(e2), e2, counters({ [DEV_A]: 2 })), 'IGNORE', 'known-seq')
    assert.equal(e2.payload.seq, 2)
  })
})
