import assert from 'node:assert/strict'
import type { ConnectionManager } from '@libp2p/interface-internal'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { autonatDials } from '../src/reach.js'

const PEER = '12D3KooWKcs31iJqYLZbNpqPHri8vWeLmNhRDpVuR7gJQf6v95Xo'

/** A connection manager that records each dial and lets the test finish it. */
function fakeManager (): { cm: ConnectionManager, dials: Array<{ target: unknown, options: any, done: () => void }> } {
  const dials: Array<{ target: unknown, options: any, done: () => void }> = []
  const cm = {
    openConnection: async (target: unknown, options: any) => await new Promise(resolve => { dials.push({ target, options, done: () => { resolve({ id: String(dials.length) }) } }) }),
    getConnections: () => []
  } as unknown as ConnectionManager
  return { cm, dials }
}

const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

describe('AutoNAT dial-backs (reach.ts autonatDials)', () => {
  it('forces each dial-back and runs those to one peer one at a time', async () => {
    const { cm, dials } = fakeManager()
    const dial = autonatDials(cm)
    const ma = multiaddr(`/ip4/203.0.113.9/tcp/4001/p2p/${PEER}`)
    const first = dial.openConnection(ma, { signal: AbortSignal.timeout(5000) })
    const second = dial.openConnection(multiaddr(`/ip4/203.0.113.9/tcp/4003/ws/p2p/${PEER}`))
    await tick()
    assert.equal(dials.length, 1, 'the second waits: libp2p would join it to the first dial and its connection, which the first closes')
    assert.equal(dials[0].options.force, true)
    assert.ok(dials[0].options.signal instanceof AbortSignal, 'the caller\'s options are kept')
    dials[0].done()
    await first
    await tick()
    assert.equal(dials.length, 2)
    assert.equal(dials[1].options.force, true)
    dials[1].done()
    await second
  })

  it('leaves dials of address lists (its random walk) and of peer ids as they are', async () => {
    const { cm, dials } = fakeManager()
    const dial = autonatDials(cm)
    void dial.openConnection([multiaddr(`/ip4/203.0.113.9/tcp/4001/p2p/${PEER}`)], {})
    void dial.openConnection(peerIdFromString(PEER), {})
    await tick()
    assert.equal(dials.length, 2, 'not queued behind each other')
    for (const d of dials) assert.notEqual(d.options.force, true)
    assert.deepEqual(dial.getConnections(), [], 'other methods pass through')
  })
})
