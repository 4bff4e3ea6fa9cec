import assert from 'node:assert/strict'
import type { Connection, Message } from '@libp2p/interface'
import { createHubNode, isRelayed, type HubNode } from '../src/index.js'

const seed = (n: number): Uint8Array => new Uint8Array(32).fill(n)
// One of the network's topics: a hub handles no other (score.ts).
const TOPIC = '/ecandle/test/entries/1'

/** Polls `f` every 50 ms until it returns something other than undefined/false. */
async function until<T> (what: string, f: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await f()
    if (v !== undefined && v !== false) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** Publishes from `from` until `to` receives a message (each try a new payload), or times out. */
async function delivers (from: HubNode, to: HubNode, label: string): Promise<void> {
  let n = 0
  const got = new Set<string>()
  const onMessage = (evt: CustomEvent<Message>): void => { if (evt.detail.topic === TOPIC) got.add(new TextDecoder().decode(evt.detail.data)) }
  to.services.pubsub.addEventListener('message', onMessage)
  try {
    await until(`${label}: a gossip message from ${from.peerId.toString().slice(-6)}`, async () => {
      const payload = `${label} ${n++} ${Math.random()}`
      await from.services.pubsub.publish(TOPIC, new TextEncoder().encode(payload)).catch(() => {})
      await new Promise(resolve => setTimeout(resolve, 200))
      return [...got].some(g => g.startsWith(label))
    })
  } finally {
    to.services.pubsub.removeEventListener('message', onMessage)
  }
}

const open = (node: HubNode, peer: HubNode): Connection[] => node.getConnections(peer.peerId).filter(c => c.status === 'open')
const gossipOn = (c: Connection): boolean => c.streams.some(s => s.direction === 'outbound' && s.protocol?.startsWith('/meshsub/') === true)

/**
 * A hole punch as gossipsub sees it, on loopback: two hubs connected only through a relay, then
 * a direct connection between them, then the relayed one closed and the relay gone. gossipsub
 * keeps one stream each way per peer; these must move to the connection that remains.
 */
describe('gossip across a change of connection (relayed, then direct, relay gone)', function () {
  this.timeout(60_000)
  let relay: HubNode, a: HubNode, b: HubNode

  before(async () => {
    const reach = { mdns: false, holePunch: false as const, redialMs: 200 }
    relay = await createHubNode({ seed: seed(11), networkId: 'test', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], reach: { ...reach, relay: { server: 'on', reservations: 0 } } })
    await relay.start()
    const viaRelay = { ...reach, relay: { server: 'off' as const, reservations: 1 }, bootstrap: [relay.getMultiaddrs()[0].toString()] }
    a = await createHubNode({ seed: seed(12), networkId: 'test', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], reach: viaRelay })
    b = await createHubNode({ seed: seed(13), networkId: 'test', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], reach: viaRelay })
    await Promise.all([a.start(), b.start()])
    for (const n of [a, b]) n.services.pubsub.subscribe(TOPIC)
  })
  after(async () => { await Promise.all([a, b, relay].map(async n => await n?.stop())) })

  it('keeps delivering both ways after the relayed connection is replaced by a direct one', async () => {
    const circuit = await until('a relayed address of A', () => a.getMultiaddrs().find(isRelayed))
    await b.dial(circuit)
    const relayed = await until('A and B connected through the relay', () => open(a, b).length === 1 && open(b, a).length === 1 && isRelayed(open(b, a)[0].remoteAddr) && open(b, a))
    await delivers(a, b, 'relayed a->b')
    await delivers(b, a, 'relayed b->a')

    // What DCUtR does once the punch succeeded: a direct connection, then the relayed one closed.
    const direct = await b.dial(a.getMultiaddrs().find(m => !isRelayed(m))!, { force: true } as any)
    assert.equal(isRelayed(direct.remoteAddr), false)
    // gossip leaves the limited connection as soon as an unlimited one is there, on both sides.
    await until('both outbound gossip streams on the direct connection', () => [open(a, b), open(b, a)].every(cs => cs.some(c => !isRelayed(c.remoteAddr) && gossipOn(c))))
    await relayed[0].close()
    await until('no relayed connection left', () => [...open(a, b), ...open(b, a)].every(c => !isRelayed(c.remoteAddr)) && open(a, b).length > 0)
    await relay.stop()

    await delivers(a, b, 'direct a->b')
    await delivers(b, a, 'direct b->a')
  })
  it('moves gossip to another connection when the one it ran on closes', async () => {
    // Two direct connections (both dialled at once, an AutoNAT dial-back): close the one gossip runs on.
    await b.dial(a.getMultiaddrs().find(m => !isRelayed(m))!, { force: true } as any)
    await until('two direct connections, on both sides', () => open(b, a).length >= 2 && open(a, b).length >= 2)
    const carrying = await until('B\'s gossip stream to A', () => open(b, a).find(gossipOn))
    await carrying.close()
    await until('B\'s gossip stream on the remaining connection', () => open(b, a).some(gossipOn) && open(a, b).some(gossipOn))
    await delivers(a, b, 'moved a->b')
    await delivers(b, a, 'moved b->a')
  })
})
