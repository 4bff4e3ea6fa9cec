import assert from 'node:assert/strict'
import { PeerRotation } from '../src/peer-rotation.js'

describe('anti-entropy peer rotation', () => {
  it('asks every peer in turn, n at a time, skipping busy ones', () => {
    const r = new PeerRotation(1000, 60_000, () => 0)
    const peers = ['e', 'a', 'c', 'b', 'd']
    assert.deepEqual(r.pick(peers, 2, new Set()), ['a', 'b'])
    assert.deepEqual(r.pick(peers, 2, new Set()), ['c', 'd'])
    assert.deepEqual(r.pick(peers, 2, new Set()), ['e', 'a'])
    assert.deepEqual(r.pick(peers, 2, new Set(['b'])), ['c', 'd'])
    assert.deepEqual(r.pick([], 2, new Set()), [])
  })

  it('leaves a failing peer out for a backoff that doubles, and forgives it after a good exchange', () => {
    let now = 0
    const r = new PeerRotation(1000, 4000, () => now)
    const peers = ['a', 'b']
    r.failed('a')
    assert.deepEqual(r.pick(peers, 2, new Set()), ['b'])
    now = 1000
    assert.deepEqual(r.pick(peers, 2, new Set()).sort(), ['a', 'b'])
    r.failed('a') // second in a row: 2 s
    now = 2500
    assert.deepEqual(r.pick(peers, 2, new Set()), ['b'])
    now = 3000
    assert.ok(r.pick(peers, 2, new Set()).includes('a'))
    r.failed('a'); r.failed('a'); r.failed('a') // capped at 4 s
    now = 7000
    assert.ok(r.pick(peers, 2, new Set()).includes('a'))
    // A failure recorded during an exchange outlives that exchange's success.
    r.failed('b')
    r.succeeded('b', 6000)
    assert.equal(r.backingOff(), 1)
    r.succeeded('b', 8000)
    assert.equal(r.backingOff(), 0)
  })
})
