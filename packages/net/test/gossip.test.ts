import assert from 'node:assert/strict'
import { ignore, reject, topics } from '@ecandle/protocol'
import { Gossip, GOSSIP_QUEUES, type GossipValidator } from '../src/index.js'

/**
 * The gossip adapter and its validation queues, on a stand-in for gossipsub's topic validator
 * table (pure logic: what gossipsub itself does with a result is its business).
 */

const NET = '0123456789abcdef0123456789abcdef'
type TopicValidator = (peer: { toString: () => string }, msg: { data: Uint8Array }) => Promise<string>

function fakePubsub (): { pubsub: any, validators: Map<string, TopicValidator>, subscribed: string[] } {
  const validators = new Map<string, TopicValidator>()
  const subscribed: string[] = []
  return { pubsub: { topicValidators: validators, subscribe: (t: string) => subscribed.push(t) }, validators, subscribed }
}

/** A validator whose calls wait until released, one by one, in call order. */
function gated (): { validate: GossipValidator, calls: number[], release: (n?: number) => void } {
  const waiting: Array<() => void> = []
  const calls: number[] = []
  return {
    calls,
    validate: async (data) => {
      calls.push(data[0])
      await new Promise<void>(resolve => waiting.push(resolve))
    },
    release: (n = 1) => { for (let i = 0; i < n; i++) waiting.shift()?.() }
  }
}

const peer = { toString: () => '12D3KooWpeer' }
const msg = (n: number): { data: Uint8Array } => ({ data: Uint8Array.of(n) })
const settle = async (): Promise<void> => { for (let i = 0; i < 5; i++) await new Promise(resolve => setImmediate(resolve)) }
const warnings: string[] = []
const log = { warn: (_o: object, m: string) => { warnings.push(m) }, debug: () => {} }

describe('gossip adapter and validation queues', () => {
  it('maps a ValidationError to its action and code, and anything else to IGNORE internal', async () => {
    const { pubsub, validators, subscribed } = fakePubsub()
    const g = new Gossip(pubsub, log, NET)
    const topic = topics.evidence(NET)
    const answers: Record<number, () => void> = {
      1: () => {},
      2: () => { throw reject('evidence-order', 'x') },
      3: () => { throw ignore('duplicate', 'x') },
      4: () => { throw Object.assign(new Error('bug'), { code: 'ERR_SOMETHING', action: 'REJECT' }) }
    }
    g.subscribe(topic, async (data) => { answers[data[0]]() })
    assert.deepEqual(subscribed, [topic])
    const v = validators.get(topic)!
    assert.deepEqual([await v(peer, msg(1)), await v(peer, msg(2)), await v(peer, msg(3)), await v(peer, msg(4))], ['accept', 'reject', 'ignore', 'ignore'])
    assert.deepEqual(Object.fromEntries(g.results), {
      [`${topic} accept ok`]: 1,
      [`${topic} reject evidence-order`]: 1,
      [`${topic} ignore duplicate`]: 1,
      // A duck-typed `action` or a Node error code never becomes a result or a label.
      [`${topic} ignore internal`]: 1
    })
    assert.ok(warnings.includes('gossip validator failed'))
  })

  it('fifo (entries): runs `concurrency` at once, queues up to maxLength in order, refuses the newest when full', async () => {
    const { pubsub, validators } = fakePubsub()
    const g = new Gossip(pubsub, log, NET)
    const topic = topics.entries(NET)
    const { concurrency, maxLength } = GOSSIP_QUEUES.entries
    const gate = gated()
    g.subscribe(topic, gate.validate)
    const v = validators.get(topic)!
    const total = concurrency + maxLength + 3
    const results = Array.from({ length: total }, (_, i) => v(peer, msg(i % 256)))
    await settle()
    assert.equal(gate.calls.length, concurrency, 'only `concurrency` validations run')
    assert.deepEqual(g.queueStats(), [{ topic: 'entries', length: maxLength, running: concurrency, maxLength, dropped: 3 }])
    // The last three found the queue full: IGNORE overloaded at once, their validator never ran.
    assert.deepEqual(await Promise.all(results.slice(-3)), ['ignore', 'ignore', 'ignore'])
    assert.equal(g.results.get(`${topic} ignore overloaded`), 3)
    for (let i = 0; i < concurrency + maxLength; i++) { gate.release(); await settle() }
    assert.deepEqual(new Set(await Promise.all(results.slice(0, -3))), new Set(['accept']))
    assert.deepEqual(gate.calls, Array.from({ length: concurrency + maxLength }, (_, i) => i % 256), 'first in, first out')
    assert.deepEqual(g.queueStats(), [{ topic: 'entries', length: 0, running: 0, maxLength, dropped: 3 }])
  })

  it('lifo (consensus): newest first, a full queue drops its oldest waiting message', async () => {
    const { pubsub, validators } = fakePubsub()
    const g = new Gossip(pubsub, log, NET)
    const topic = topics.consensus(NET)
    const { concurrency, maxLength } = GOSSIP_QUEUES.consensus
    assert.equal(concurrency, 1)
    const gate = gated()
    g.subscribe(topic, gate.validate)
    const v = validators.get(topic)!
    // 0 runs; 1..maxLength wait; maxLength+1 and +2 push out 1 and 2.
    const results = Array.from({ length: maxLength + 3 }, (_, i) => v(peer, msg(i)))
    await settle()
    assert.deepEqual(await Promise.all([results[1], results[2]]), ['ignore', 'ignore'])
    assert.equal(g.queueStats()[0].dropped, 2)
    assert.equal(g.results.get(`${topic} ignore overloaded`), 2)
    gate.release(); await settle()
    gate.release(); await settle()
    assert.deepEqual(gate.calls.slice(0, 3), [0, maxLength + 2, maxLength + 1], 'the newest waiting message runs next')
    gate.release(maxLength + 3); await settle()
    for (let i = 0; i < maxLength; i++) { gate.release(); await settle() }
    assert.equal(g.queueStats()[0].length, 0)
  })

  it('every topic of the network has a declared queue', () => {
    for (const name of Object.keys(topics)) {
      const q = GOSSIP_QUEUES[name as keyof typeof GOSSIP_QUEUES]
      assert.ok(q !== undefined && q.maxLength > 0 && q.concurrency > 0, `queue of ${name}`)
    }
  })
})
