import assert from 'node:assert/strict'
import { epochVoteAtMs } from '@ecandle/protocol'
import { fixture } from '@ecandle/protocol/testing'
import { EpochClock } from '../../src/agreement/clock.js'
import { FakeClock } from './fakes.js'

describe('agreement: EpochClock (fake clock)', () => {
  const { net } = fixture() // 60 s epochs, 5 s grace

  it('calls back when the vote of the epoch to decide opens, then rechecks until it moves on', () => {
    const clock = new FakeClock(epochVoteAtMs(net, 0) - 10_000)
    const ec = new EpochClock(net, clock, 200)
    let next = 0
    const due: Array<[number, number]> = []
    ec.watch(() => next, (e) => { due.push([e, clock.now()]) })
    clock.advance(9_999)
    assert.deepEqual(due, [], 'nothing before the vote opens (and no polling: one timer)')
    assert.equal(clock.pending, 1)
    clock.advance(1)
    assert.deepEqual(due, [[0, epochVoteAtMs(net, 0)]])
    clock.advance(400)
    assert.equal(due.length, 3, 'rechecked every 200 ms while epoch 0 stays undecided')
    // Decided: the next epoch's vote is an epoch away; poke re-arms at once.
    next = 1
    ec.poke()
    clock.advance(59_599)
    assert.equal(due.length, 3)
    clock.advance(1)
    assert.deepEqual(due.at(-1), [1, epochVoteAtMs(net, 1)])
    ec.stop()
    clock.advance(10_000)
    assert.equal(due.length, 4, 'stopped: no more calls')
    assert.equal(clock.pending, 0)
  })

  it('an epoch whose vote is already open is due at once', () => {
    const clock = new FakeClock(epochVoteAtMs(net, 5))
    const ec = new EpochClock(net, clock, 200)
    const due: number[] = []
    ec.watch(() => 3, (e) => { due.push(e) })
    clock.advance(0)
    assert.deepEqual(due, [3])
    assert.ok(ec.isFarBehind(3), 'three epochs late: far behind')
    assert.ok(!ec.isFarBehind(4), 'one epoch late: not yet')
    ec.stop()
  })

  it('waits for a vote far in the future in steps (Node fires timers over 2^31 ms at once)', () => {
    const clock = new FakeClock(epochVoteAtMs(net, 0) - 30 * 86_400_000)
    const ec = new EpochClock(net, clock, 200)
    const due: number[] = []
    ec.watch(() => 0, (e) => { due.push(e) })
    clock.advance(30 * 86_400_000 - 1)
    assert.deepEqual(due, [])
    clock.advance(1)
    assert.deepEqual(due, [0])
    ec.stop()
  })
})
