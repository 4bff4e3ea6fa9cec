import { createHubNode, multiaddr, type HubNode } from '@ecandle/net'
import { decodeCanonical, expectMap, generateSeed, topics, verifyConsensus, type Network } from '@ecandle/protocol'

/**
 * A real libp2p peer in the test process that joins the consensus gossip topic and records every
 * signed consensus message it sees (proposals, prevotes, precommits of every validator).
 * It lets a test check, from the outside, that no validator ever signed two different messages
 * for one (epoch, round, step): a hub's own evidence check cannot see this for epochs it has
 * already decided (it ignores messages of past epochs).
 *
 * It is not a validator and sends nothing of its own, but it does forward gossip like any peer:
 * block the peers on one side of a partition (`block`) or it would bridge the partition.
 */
export interface SeenVote {
  from: string
  type: 'proposal' | 'prevote' | 'precommit'
  epoch: number
  round: number
  valueId: string | null
  /** When the watcher first saw it (ms). */
  at: number
}

export class VoteWatch {
  /** `${from} ${epoch} ${round} ${type}` -> valueIds ('nil' for null) signed for that slot. */
  private readonly slots = new Map<string, Set<string>>()
  /** Every distinct signed message seen, in arrival order (`at`: first seen). */
  readonly seen: SeenVote[] = []
  /** Every sighting, repeats included (a message sent again has the same bytes). */
  readonly heard: SeenVote[] = []
  private readonly seenBytes = new Map<string, SeenVote>()
  private readonly listeners = new Set<(v: SeenVote) => void>()
  private readonly blocked = new Set<string>()
  invalid = 0

  private constructor (private readonly net: Network, readonly node: HubNode) {}

  static async start (net: Network): Promise<VoteWatch> {
    const w = new VoteWatch(net, undefined as unknown as HubNode)
    const node = await createHubNode({ seed: generateSeed(), networkId: net.id, listen: [], bootstrap: net.def.bootstrap, blocked: w.blocked, observer: true })
    ;(w as { node: HubNode }).node = node
    const topic = topics.consensus(net.id)
    node.services.pubsub.addEventListener('message', (evt) => {
      const msg = evt.detail
      if (msg.topic !== topic) return
      w.onBundle(msg.data)
    })
    node.services.pubsub.subscribe(topic)
    await w.reconnect()
    return w
  }

  private onBundle (data: Uint8Array): void {
    let msgs: unknown[]
    try {
      const m = expectMap(decodeCanonical(data, 'bundle'), 'bundle', ['at', 'msgs'])
      msgs = Array.isArray(m.msgs) ? m.msgs : []
    } catch {
      this.invalid++
      return
    }
    for (const bytes of msgs) {
      if (!(bytes instanceof Uint8Array)) { this.invalid++; continue }
      const key = Buffer.from(bytes).toString('base64')
      const known = this.seenBytes.get(key)
      if (known !== undefined) {
        this.heard.push({ ...known, at: Date.now() })
        continue
      }
      let p
      try {
        p = verifyConsensus(this.net, bytes).payload
      } catch {
        this.invalid++
        continue
      }
      const v: SeenVote = { from: p.from, type: p.type, epoch: p.epoch, round: p.round, valueId: p.valueId, at: Date.now() }
      this.seenBytes.set(key, v)
      this.seen.push(v)
      this.heard.push(v)
      const slot = `${p.from} ${p.epoch} ${p.round} ${p.type}`
      const ids = this.slots.get(slot) ?? new Set<string>()
      ids.add(p.valueId ?? 'nil')
      this.slots.set(slot, ids)
      for (const l of this.listeners) l(v)
    }
  }

  /** Calls `fn` synchronously for every new signed message (until the returned function is called). */
  onVote (fn: (v: SeenVote) => void): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  /** Slots for which some validator signed more than one value: should be none, ever. */
  conflicts (): Array<{ slot: string, values: string[] }> {
    return [...this.slots].filter(([, ids]) => ids.size > 1).map(([slot, ids]) => ({ slot, values: [...ids] }))
  }

  /** Refuse (and drop) connections to these hubs; an empty list talks to everyone again. */
  async block (peers: string[]): Promise<void> {
    this.blocked.clear()
    for (const p of peers) this.blocked.add(p)
    for (const c of this.node.getConnections()) {
      if (this.blocked.has(c.remotePeer.toString())) await c.close().catch(() => {})
    }
    await this.reconnect()
  }

  /** Dials every hub of the network that is not blocked and not connected (best effort). */
  async reconnect (): Promise<void> {
    const connected = new Set(this.node.getPeers().map(p => p.toString()))
    await Promise.all(this.net.def.bootstrap.map(async addr => {
      const peer = addr.split('/p2p/')[1]
      if (peer === undefined || this.blocked.has(peer) || connected.has(peer)) return
      await this.node.dial(multiaddr(addr), { signal: AbortSignal.timeout(3000) }).catch(() => {})
    }))
  }

  connectedTo (peer: string): boolean {
    return this.node.getPeers().some(p => p.toString() === peer)
  }

  async stop (): Promise<void> {
    await this.node.stop()
  }
}
