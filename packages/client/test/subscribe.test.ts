import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import type { Message } from '@libp2p/interface'
import { gossipsubConfig, networkTopics, subscribeNetwork, type EntryMessage, type PubSubLike, type ValidationError } from '../src/index.js'
import { decidedEpoch, flip, log, net } from './fixtures.js'

/** A pubsub service double: records subscriptions, delivers messages as gossipsub's 'message' event does. */
class FakePubSub implements PubSubLike {
  globalSignaturePolicy = 'StrictNoSign'
  readonly topics = new Set<string>()
  private readonly listeners = new Set<(evt: CustomEvent<Message>) => void>()
  subscribe (t: string): void { this.topics.add(t) }
  unsubscribe (t: string): void { this.topics.delete(t) }
  getTopics (): string[] { return [...this.topics] }
  addEventListener (_type: 'message', l: (evt: CustomEvent<Message>) => void): void { this.listeners.add(l) }
  removeEventListener (_type: 'message', l: (evt: CustomEvent<Message>) => void): void { this.listeners.delete(l) }
  deliver (topic: string, data: Uint8Array): void {
    if (!this.topics.has(topic)) return
    const evt = new CustomEvent<Message>('message', { detail: { type: 'unsigned', topic, data } })
    for (const l of this.listeners) l(evt)
  }
}

const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise(resolve => setImmediate(resolve))
  assert.ok(cond(), 'condition never became true')
}

describe('gossipsubConfig', () => {
  it('uses StrictNoSign and sha256 of the data as message id (as the hubs do); extra options cannot override them', () => {
    const c = gossipsubConfig({ msgIdFn: () => new Uint8Array(1), D: 8 } as any)
    assert.equal(c.globalSignaturePolicy, 'StrictNoSign')
    const data = new TextEncoder().encode('hello')
    assert.deepEqual(Buffer.from(c.msgIdFn({ data })), createHash('sha256').update(data).digest())
    assert.equal(typeof c.fastMsgIdFn({ data }), 'string')
    assert.equal((c as any).D, 8)
  })
})

describe('subscribeNetwork', () => {
  const t = networkTopics(net)
  const entries = log(0, 3)
  const d = decidedEpoch()

  it('subscribes only the topics it has handlers for, verifies, and calls handlers in order', async () => {
    const ps = new FakePubSub()
    const got: EntryMessage[] = []
    const certs: number[] = []
    const stop = subscribeNetwork({ services: { pubsub: ps } }, net, { onEntry: e => { got.push(e) }, onCertificate: c => { certs.push(c.epoch) } })
    assert.deepEqual(ps.getTopics().sort(), [t.certificates, t.entries].sort())
    for (const e of entries) ps.deliver(t.entries, e.bytes)
    ps.deliver(t.certificates, d.certificate)
    await until(() => got.length === 3 && certs.length === 1)
    assert.deepEqual(got.map(e => e.seq), [1, 2, 3])
    assert.deepEqual(certs, [0])
    assert.equal(stop.stats.entries, 3)
    stop()
    assert.deepEqual(ps.getTopics(), [])
  })

  it('passes invalid messages to onInvalid with the protocol code, never to the handlers', async () => {
    const ps = new FakePubSub()
    const bad: ValidationError[] = []
    let ok = 0
    const stop = subscribeNetwork({ services: { pubsub: ps } }, net, { onEntry: () => { ok++ }, onInvalid: err => { bad.push(err) } })
    ps.deliver(t.entries, flip(entries[0].bytes, -1))
    ps.deliver(t.entries, new Uint8Array([0xff]))
    ps.deliver(t.entries, entries[0].bytes)
    await until(() => bad.length === 2 && ok === 1)
    assert.equal(bad[0].code, 'entry-signature')
    assert.equal(bad[0].action, 'REJECT')
    assert.equal(stop.stats.invalid, 2)
    stop()
  })

  it('never throws into the pubsub: handler errors and rejections go to onError', async () => {
    const ps = new FakePubSub()
    const errors: string[] = []
    const stop = subscribeNetwork({ services: { pubsub: ps } }, net, {
      onEntry: async e => { if (e.seq === 1) throw new Error('sync boom'); if (e.seq === 2) await Promise.reject(new Error('async boom')) },
      onError: err => { errors.push((err as Error).message); throw new Error('even onError throws') }
    })
    for (const e of entries) assert.doesNotThrow(() => ps.deliver(t.entries, e.bytes))
    await until(() => stop.stats.entries === 3)
    assert.deepEqual(errors, ['sync boom', 'async boom'])
    assert.equal(stop.stats.handlerErrors, 2)
    stop()
  })

  it('bounds its queue: with a stuck handler, messages beyond maxQueue are dropped and counted', async () => {
    const ps = new FakePubSub()
    let release!: () => void
    const gate = new Promise<void>(resolve => { release = resolve })
    let handled = 0
    const stop = subscribeNetwork({ services: { pubsub: ps } }, net, { onEntry: async () => { await gate; handled++ } }, { maxQueue: 2 })
    ps.deliver(t.entries, entries[0].bytes) // taken by the drain loop at once
    await until(() => stop.stats.entries === 1)
    for (const e of entries) ps.deliver(t.entries, e.bytes) // 2 queue, 1 dropped
    assert.equal(stop.stats.dropped, 1)
    release()
    await until(() => handled === 3)
    stop()
  })

  it('shares topics: unsubscribing one subscription keeps the other\'s and the app\'s own topics', () => {
    const ps = new FakePubSub()
    ps.subscribe(t.evidence) // the app's own subscription
    const a = subscribeNetwork({ services: { pubsub: ps } }, net, { onEntry: () => {}, onEvidence: () => {} })
    const b = subscribeNetwork({ services: { pubsub: ps } }, net, { onEntry: () => {} })
    a()
    assert.deepEqual(ps.getTopics().sort(), [t.entries, t.evidence].sort())
    b()
    assert.deepEqual(ps.getTopics(), [t.evidence])
  })

  it('unsubscribes when the signal aborts; refuses a pubsub that signs messages', () => {
    const ps = new FakePubSub()
    const ctl = new AbortController()
    subscribeNetwork({ services: { pubsub: ps } }, net, { onEntry: () => {} }, { signal: ctl.signal })
    assert.equal(ps.topics.size, 1)
    ctl.abort()
    assert.equal(ps.topics.size, 0)
    const signing = new FakePubSub()
    signing.globalSignaturePolicy = 'StrictSign'
    assert.throws(() => subscribeNetwork({ services: { pubsub: signing } }, net, { onEntry: () => {} }), /gossipsubConfig/)
    assert.throws(() => subscribeNetwork({ services: { pubsub: ps } }, net, {}), /at least one/)
  })
})
