import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { reject } from '@ecandle/protocol'
import { createHubNode, Gossip, REJECTS_PAST_GRAYLIST, SCORE_THRESHOLDS, VALIDATOR_TAG, type HubNode } from '../src/index.js'

const quiet = { debug: () => {}, warn: () => {}, info: () => {} }
const seed = (n: number): Uint8Array => new Uint8Array(32).fill(n)
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

async function until (what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<number> {
  const t0 = Date.now()
  while (!(await probe())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(50)
  }
  return Date.now() - t0
}

/**
 * The defences of one hub (defences.ts, score.ts) against real libp2p peers on loopback: a peer
 * flooding invalid gossip is graylisted, hung up on and refused; subscriptions to other topics
 * are not kept; strangers are capped while a validator always gets in; half-open sockets from one
 * IP hold at most that IP's handshake slots.
 */
describe('hub defences (real libp2p nodes on loopback)', function () {
  this.timeout(60_000)
  const TOPIC = '/ecandle/test/entries/1'
  const nodes: HubNode[] = []
  const sockets: Socket[] = []
  let hub: HubNode
  let validator: HubNode
  const warnings: Array<{ obj: any, msg: string }> = []

  const node = async (n: number): Promise<HubNode> => {
    const x = await createHubNode({ seed: seed(n), networkId: 'test', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [] })
    await x.start()
    nodes.push(x)
    return x
  }

  before(async () => {
    validator = await node(3)
    hub = await createHubNode({
      seed: seed(1),
      networkId: 'test',
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: [],
      defences: {
        validators: [validator.peerId.toString()],
        maxStrangers: 3,
        maxPendingPerIp: 4,
        forgetMs: 500,
        log: { ...quiet, warn: (obj, msg) => { warnings.push({ obj, msg }) } }
      }
    })
    await hub.start()
    nodes.push(hub)
    // Every message on the topic breaks a rule.
    new Gossip(hub.services.pubsub, quiet, 'test').subscribe(TOPIC, async () => { throw reject('entry-signature', 'forged') })
  })
  after(async () => {
    for (const s of sockets) s.destroy()
    for (const n of nodes) { try { await n.stop() } catch {} }
  })

  it('graylists a peer flooding invalid messages within seconds, hangs up on it and refuses it', async () => {
    const evil = await node(10)
    evil.services.pubsub.subscribe(TOPIC)
    await evil.dial(hub.getMultiaddrs()[0])
    await until('the hub as a subscriber', () => evil.services.pubsub.getSubscribers(TOPIC).some(p => p.equals(hub.peerId)))
    const first = Date.now()
    let sent = 0
    const flood = setInterval(() => { for (let i = 0; i < 20; i++) { sent++; void evil.services.pubsub.publish(TOPIC, randomBytes(200)).catch(() => {}) } }, 20)
    try {
      await until('the evil peer hung up on', () => hub.getConnections(evil.peerId).length === 0)
    } finally {
      clearInterval(flood)
    }
    const took = Date.now() - first
    const w = warnings.find(x => x.msg.startsWith('peer graylisted') && x.obj.peer === evil.peerId.toString())
    assert.ok(w !== undefined, 'the hub says it graylisted the peer')
    assert.ok(w.obj.score < SCORE_THRESHOLDS.graylistThreshold, `score ${String(w.obj.score)}`)
    assert.ok(took < 10_000, `graylisted after ${took} ms (${sent} messages sent)`)
    // Refused when it comes back (the hub closes the connection once it knows who is calling).
    await until('evil to see the hang-up', () => evil.getConnections(hub.peerId).length === 0)
    await evil.dial(hub.getMultiaddrs()[0], { signal: AbortSignal.timeout(5000) }).catch(() => {})
    await until('the hub to refuse it', () => (hub.services.defences.counts.refused['banned-peer'] ?? 0) >= 1)
    await sleep(500)
    assert.equal(hub.getConnections(evil.peerId).length, 0)
  })

  it('hangs up on a stranger at its fifth REJECTed message, without waiting for a score refresh', async () => {
    const seen: Array<{ obj: any, msg: string }> = []
    const h = await createHubNode({ seed: seed(2), networkId: 'test', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], defences: { validators: [], log: { ...quiet, warn: (obj, msg) => { seen.push({ obj, msg }) } } } })
    await h.start()
    nodes.push(h)
    let rejected = 0
    const g = new Gossip(h.services.pubsub, quiet, 'test')
    g.onReject = (peer) => { rejected++; h.services.defences.rejected(peer) }
    g.subscribe(TOPIC, async () => { throw reject('entry-signature', 'forged') })
    const evil = await node(13)
    evil.services.pubsub.subscribe(TOPIC)
    await evil.dial(h.getMultiaddrs()[0])
    await until('the hub as a subscriber', () => evil.services.pubsub.getSubscribers(TOPIC).some(p => p.equals(h.peerId)))
    // One message at a time, each after the hub has judged the one before.
    let sent = 0
    while (h.getConnections(evil.peerId).length > 0 && sent < 50) {
      const before = rejected
      await evil.services.pubsub.publish(TOPIC, randomBytes(200)).catch(() => {})
      sent++
      await until('the hub to judge the message', () => rejected > before || h.getConnections(evil.peerId).length === 0)
    }
    const w = seen.find(x => x.msg.startsWith('peer graylisted') && x.obj.peer === evil.peerId.toString())
    assert.equal(w?.obj.why, 'rejected', JSON.stringify(w))
    assert.equal(rejected, REJECTS_PAST_GRAYLIST, `hung up after ${rejected} REJECTs (${sent} sent)`)
    await until('the hang-up', () => h.getConnections(evil.peerId).length === 0)
  })

  it('hangs up on a stranger that holds more streams open than maxStreamsPerStranger', async () => {
    const proto = '/ecandle/test/hold/1'
    await hub.handle(proto, () => {}, { maxInboundStreams: 256 }) // never answers: the streams stay open
    // Its own defences would hang up on the hub for the streams it holds to it: not here.
    const holder = await createHubNode({ seed: seed(14), networkId: 'test', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], defences: { validators: [], maxStreamsPerStranger: 1000 } })
    await holder.start()
    nodes.push(holder)
    await holder.dial(hub.getMultiaddrs()[0])
    await until('the hub to hold the connection', () => hub.getConnections(holder.peerId).length > 0)
    const max = hub.services.defences.opts.maxStreamsPerStranger
    const streams = []
    for (let i = 0; i <= max + 4 && hub.getConnections(holder.peerId).length > 0; i++) {
      try { streams.push(await holder.dialProtocol(hub.peerId, proto, { signal: AbortSignal.timeout(2000) })) } catch { break }
    }
    await until('the hub to hang up on it', () => hub.getConnections(holder.peerId).length === 0)
    const w = warnings.find(x => x.msg.startsWith('peer graylisted') && x.obj.peer === holder.peerId.toString())
    assert.equal(w?.obj.why, 'streams', JSON.stringify(w))
    assert.ok(streams.length > max, `${streams.length} streams opened`)
    await hub.unhandle(proto)
  })

  it('forgets a stranger that left (the peer store does not grow with fresh peer ids)', async () => {
    const s = await node(12)
    await s.dial(hub.getMultiaddrs()[0])
    await until('the hub to know the stranger', async () => await hub.peerStore.has(s.peerId))
    await s.stop()
    await until('the hub to forget it', async () => !(await hub.peerStore.has(s.peerId)))
    assert.ok(await hub.peerStore.has(validator.peerId), 'validators are kept')
  })

  it('keeps no subscription to a topic outside the network\'s', async () => {
    const spam = await node(11)
    await spam.dial(hub.getMultiaddrs()[0])
    const subscribed = (): boolean => hub.services.pubsub.getSubscribers(TOPIC).some(p => p.equals(spam.peerId))
    spam.services.pubsub.subscribe(TOPIC)
    await until('the spammer\'s subscription to our topic', subscribed)
    for (let i = 0; i < 2000; i++) spam.services.pubsub.subscribe(`/spam/${i}`)
    // Sent after the spam on the same stream: once the hub has it, it has handled all of the spam.
    spam.services.pubsub.unsubscribe(TOPIC)
    await until('the spammer\'s unsubscription', () => !subscribed())
    const topics = (hub.services.pubsub as unknown as { topics: Map<string, Set<string>> }).topics
    assert.deepEqual([...topics.keys()], [TOPIC])
    await spam.stop()
  })

  it('caps strangers, and still lets a validator in', async () => {
    const strangers = [await node(20), await node(21), await node(22), await node(23)]
    let ok = 0
    for (const s of strangers) {
      try { await s.dial(hub.getMultiaddrs()[0], { signal: AbortSignal.timeout(5000) }); ok++ } catch {}
    }
    await sleep(300)
    const open = strangers.filter(s => hub.getConnections(s.peerId).length > 0).length
    assert.ok(open <= 3, `${open} strangers connected (limit 3; ${ok} dials succeeded on their side)`)
    assert.ok((hub.services.defences.counts.refused.strangers ?? 0) >= 1, JSON.stringify(hub.services.defences.counts))
    await validator.dial(hub.getMultiaddrs()[0], { signal: AbortSignal.timeout(5000) })
    await until('the validator connected', () => hub.getConnections(validator.peerId).length > 0)
    for (const s of strangers) await s.stop()
  })

  it('follows the validators governance decides: one added is let in past the strangers\' limit and tagged, one removed is a stranger again', async () => {
    // A hub of its own (no state of the tests before): no validator at start, room for one stranger.
    const h = await createHubNode({ seed: seed(40), networkId: 'test', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], defences: { validators: [], maxStrangers: 1, log: quiet } })
    await h.start()
    nodes.push(h)
    const d = h.services.defences
    const stranger = await node(41)
    await stranger.dial(h.getMultiaddrs()[0], { signal: AbortSignal.timeout(5000) })
    await until('the stranger\'s slot taken', () => h.getConnections(stranger.peerId).length > 0)
    const added = await node(42)
    const tag = async (): Promise<number | undefined> => (await h.peerStore.get(added.peerId).catch(() => undefined))?.tags.get(VALIDATOR_TAG)?.value
    const refusedNow = async (): Promise<void> => {
      const before = d.counts.refused.strangers ?? 0
      await added.dial(h.getMultiaddrs()[0], { signal: AbortSignal.timeout(5000) }).catch(() => {})
      await until('the hub to refuse it as a stranger', () => (d.counts.refused.strangers ?? 0) > before)
      assert.equal(h.getConnections(added.peerId).length, 0)
    }
    await refusedNow()
    assert.equal(d.isValidator(added.peerId.toString()), false)
    // Governance adds it: let in although the strangers' slot is taken, and tagged for the pruner.
    d.setValidators([added.peerId.toString()])
    await added.dial(h.getMultiaddrs()[0], { signal: AbortSignal.timeout(5000) })
    await until('the hub to hold the added validator\'s connection', () => h.getConnections(added.peerId).length > 0)
    await until('the validator tag on it', async () => await tag() === 100)
    // Governance removes it: its tag goes, and its next connection counts against the strangers' limit.
    d.setValidators([])
    assert.equal(d.isValidator(added.peerId.toString()), false)
    await until('the validator tag removed', async () => await tag() === undefined)
    await added.hangUp(h.peerId)
    await until('the removed validator gone', () => h.getConnections(added.peerId).length === 0)
    await refusedNow()
    assert.ok(h.getConnections(stranger.peerId).length > 0, 'the stranger keeps its slot')
  })

  it('half-open sockets from one IP hold only that IP\'s handshake slots', async () => {
    const addr = hub.getMultiaddrs()[0].nodeAddress()
    // 127.0.0.2 is loopback too: an attacker's address other than the validator's.
    for (let i = 0; i < 30; i++) {
      const s = connect({ host: addr.address, port: addr.port, localAddress: '127.0.0.2' })
      s.on('error', () => {})
      sockets.push(s)
    }
    await until('the pending-per-IP limit to refuse some', () => (hub.services.defences.counts.refused['pending-per-ip'] ?? 0) >= 20)
    await validator.hangUp(hub.peerId)
    await until('the validator gone', () => hub.getConnections(validator.peerId).length === 0)
    await validator.dial(hub.getMultiaddrs()[0], { signal: AbortSignal.timeout(5000) })
    await until('the hub to hold the validator\'s connection', () => hub.getConnections(validator.peerId).length > 0)
  })
})
