import assert from 'node:assert/strict'
import type { CutItem } from '@ecandle/protocol'
import { EntryWait } from '../../src/agreement/entry-wait.js'
import { FakeClock } from './fakes.js'

describe('agreement: EntryWait (resolved by the ingest path, fake clock)', () => {
  const cut = (a: number, b: number): CutItem[] => [{ hub: 'a', seq: a, id: null }, { hub: 'b', seq: b, id: null }]

  it('resolves when the ingest path appends the last missing entry, with no timer but its deadline', async () => {
    const held = new Map([['a', 3], ['b', 0]])
    const clock = new FakeClock(0)
    const w = new EntryWait((h) => held.get(h) ?? 0, clock)
    assert.equal(await w.until(cut(3, 0), { timeoutMs: 1000 }), true, 'already held: at once')
    const p = w.until(cut(3, 2), { timeoutMs: 1000 })
    assert.equal(clock.pending, 1, 'one timer: the deadline')
    held.set('b', 1); w.onEntry('b')
    assert.equal(w.waiting, 1, 'b#1 is not enough')
    held.set('b', 2); w.onEntry('b')
    assert.equal(await p, true)
    assert.equal(clock.pending, 0, 'deadline cleared')
  })

  it('gives up at its deadline, or when the signal aborts; cancelAll ends every wait', async () => {
    const clock = new FakeClock(0)
    const w = new EntryWait(() => 0, clock)
    const late = w.until(cut(1, 0), { timeoutMs: 2500 })
    clock.advance(2499)
    assert.equal(w.waiting, 1)
    clock.advance(1)
    assert.equal(await late, false)
    const ctl = new AbortController()
    const aborted = w.until(cut(1, 0), { timeoutMs: 2500, signal: ctl.signal })
    ctl.abort()
    assert.equal(await aborted, false)
    assert.equal(await w.until(cut(1, 0), { timeoutMs: 2500, signal: ctl.signal }), false, 'an aborted signal: at once')
    const a = w.until(cut(1, 0), { timeoutMs: 2500 })
    const b = w.until(cut(0, 1), { timeoutMs: 2500 })
    w.cancelAll()
    assert.deepEqual(await Promise.all([a, b]), [false, false])
    assert.equal(clock.pending, 0)
  })
})
