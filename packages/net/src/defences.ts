import type { Connection, ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { Counter, type Registry } from 'prom-client'
import { REJECTS_PAST_GRAYLIST, SCORE_THRESHOLDS } from './score.js'

/**
 * What a hub does about strangers (peers that are not validators of the network): how many may
 * connect, from one IP and in all, how many handshakes one IP may hold open, and what happens to a
 * peer whose gossip score falls below the graylist threshold, that keeps sending REJECTed gossip, or
 * that holds too many streams open (hung up on and refused for a while; an IP whose peers keep being
 * graylisted is refused as a whole). Validators are always let in and
 * never counted against a stranger's limit; libp2p's own connection limit is set above the
 * strangers' limit by a reserve for them (`libp2pMaxConnections`), so they always find a slot, and
 * they carry a peer-store tag that keeps them last in line when libp2p prunes.
 */
export interface DefenceOptions {
  /** Peer ids of the network's validators at start (governance changes them: `setValidators`). */
  validators: readonly string[]
  /** Connections with strangers, in all. */
  maxStrangers: number
  /** Connections from one IP address (validators not counted). */
  maxPerIp: number
  /** Connections with one peer. */
  maxPerPeer: number
  /** Inbound connections of one IP still in their handshake (before the peer id is known). */
  maxPendingPerIp: number
  /** A graylisted stranger is refused this long. */
  banMs: number
  /** This many graylisted peers from one IP within `banMs` and the IP itself is refused (strangers only). */
  maxGraylistedPerIp: number
  /** How often gossip scores are checked. */
  checkMs: number
  /** A stranger gone this long is deleted from the peer store (fresh peer ids must not grow it). */
  forgetMs: number
  /**
   * A stranger is treated as graylisted at once after this many REJECTed gossip messages (within
   * `banMs`): the number at which its P4 penalty passes the graylist threshold (score.ts), so the
   * hang-up does not wait for gossipsub's next score refresh while the peer floods on.
   */
  rejectsToGraylist: number
  /**
   * Streams a stranger may hold open on one connection, opened by it (checked every `checkMs`); past it, it is
   * hung up on and banned as on a graylisting score. An honest light peer needs a handful.
   */
  maxStreamsPerStranger: number
}

export const defaultDefenceOptions: Omit<DefenceOptions, 'validators'> = {
  maxStrangers: 128,
  maxPerIp: 16,
  maxPerPeer: 3,
  maxPendingPerIp: 16,
  banMs: 10 * 60_000,
  maxGraylistedPerIp: 8,
  checkMs: 1000,
  forgetMs: 60_000,
  rejectsToGraylist: REJECTS_PAST_GRAYLIST,
  maxStreamsPerStranger: 32
}

/** Peer-store tag of validators: libp2p's pruner closes the lowest-valued connections first. */
export const VALIDATOR_TAG = 'ecandle-validator'

/** A handshake older than this is not counted as pending (libp2p's inbound upgrade deadline is 10 s). */
const PENDING_MAX_MS = 15_000

/** Most banned peers and IPs remembered (the oldest is forgotten first). */
const MAX_BANS = 4096

export type RefusalReason = 'pending-per-ip' | 'per-ip' | 'per-peer' | 'strangers' | 'banned-peer' | 'banned-ip'

export interface DefenceLogger { warn: (obj: object, msg: string) => void, info: (obj: object, msg: string) => void }

/** The parts of a libp2p node the defences use (kept small so tests can see what is touched). */
export interface DefendedNode {
  getConnections: (peer?: PeerId) => Connection[]
  hangUp: (peer: PeerId) => Promise<void>
  peerStore: { merge: (peer: PeerId, data: { tags: Record<string, { value: number } | undefined> }) => Promise<unknown>, delete: (peer: PeerId) => Promise<void> }
  services: { pubsub: unknown }
  addEventListener: ((type: 'stop', fn: () => void) => void) & ((type: 'peer:disconnect', fn: (evt: CustomEvent<PeerId>) => void) => void)
}

export class Defences {
  readonly opts: DefenceOptions
  private validators: Set<string>
  /** ip -> handshakes in progress from it, and when each began */
  private readonly pending = new Map<string, Map<MultiaddrConnection, number>>()
  private readonly bannedPeers = new Map<string, number>()
  private readonly bannedIps = new Map<string, number>()
  /** ip -> times its peers were graylisted (within banMs) */
  private readonly graylistedByIp = new Map<string, number[]>()
  private node?: DefendedNode
  private timer?: NodeJS.Timeout
  /** stranger -> REJECTed gossip messages (insertion order is age order; bounded by MAX_BANS) */
  private readonly rejects = new Map<string, { n: number, since: number }>()
  /** Strangers that disconnected, and when (insertion order is age order). */
  private readonly gone = new Map<string, { peer: PeerId, at: number }>()
  readonly counts = { graylisted: 0, refused: {} as Partial<Record<RefusalReason, number>> }
  private readonly refusedMetric?: Counter
  private readonly graylistedMetric?: Counter

  constructor (opts: Partial<DefenceOptions> & Pick<DefenceOptions, 'validators'>, private readonly log?: DefenceLogger, registry?: Registry) {
    this.opts = { ...defaultDefenceOptions, ...opts }
    this.validators = new Set(this.opts.validators)
    if (registry !== undefined) {
      this.refusedMetric = new Counter({ name: 'ecandle_connections_refused_total', help: 'Connections refused by the hub\'s defences, by reason', labelNames: ['reason'], registers: [registry] })
      this.graylistedMetric = new Counter({ name: 'ecandle_peers_graylisted_total', help: 'Peers graylisted: gossip score below the graylist threshold, too many REJECTed messages or too many streams (strangers among them hung up on and banned)', registers: [registry] })
    }
  }

  isValidator (peer: string): boolean { return this.validators.has(peer) }

  /**
   * The validators now (governance adds and removes them): a peer that became one is let in past the
   * strangers' limits and tagged from now on; one that stopped being one is a stranger again (its
   * tag removed, its connections counted against the strangers' limits from its next one).
   */
  setValidators (ids: readonly string[]): void {
    const next = new Set(ids)
    const before = this.validators
    this.validators = next
    const node = this.node
    if (node === undefined) return // attach tags them
    for (const v of next) if (!before.has(v)) this.tag(node, v, { value: 100 })
    for (const v of before) if (!next.has(v)) this.tag(node, v, undefined)
  }

  private tag (node: DefendedNode, peer: string, tag: { value: number } | undefined): void {
    void node.peerStore.merge(peerIdFromString(peer), { tags: { [VALIDATOR_TAG]: tag } }).catch(() => {})
  }

  /**
   * libp2p's connection limit: the strangers' limit plus a reserve for validators (two connections
   * each, as simultaneous dials make, and a margin), so a validator is never refused for want of a slot.
   * Fixed when the node is made, from the validators then: the margin covers validators governance adds.
   */
  get libp2pMaxConnections (): number { return this.opts.maxStrangers + 2 * this.validators.size + 16 }

  /** Gater checks, to merge into the node's connection gater. `blocked` is checked first (test partitions). */
  gater (blocked: (peer: PeerId) => boolean): Pick<ConnectionGater, 'denyDialPeer' | 'denyInboundConnection' | 'denyInboundEncryptedConnection' | 'denyOutboundEncryptedConnection'> {
    return {
      denyDialPeer: (peer) => blocked(peer) || this.banned(peer.toString()),
      denyInboundConnection: (maConn) => this.denyPending(maConn),
      denyInboundEncryptedConnection: (peer, maConn) => {
        const ip = ipOf(maConn.remoteAddr)
        const set = ip === undefined ? undefined : this.pending.get(ip)
        set?.delete(maConn)
        if (set?.size === 0 && ip !== undefined) this.pending.delete(ip)
        return blocked(peer) || this.denyPeer(peer, maConn.remoteAddr)
      },
      denyOutboundEncryptedConnection: blocked
    }
  }

  /** Starts watching gossip scores (once the node exists); stops with the node. */
  attach (node: DefendedNode): void {
    this.node = node
    for (const v of this.validators) this.tag(node, v, { value: 100 })
    this.timer = setInterval(() => { this.checkScores(); this.forgetStrangers() }, this.opts.checkMs)
    this.timer.unref()
    node.addEventListener('stop', () => { clearInterval(this.timer) })
    node.addEventListener('peer:disconnect', (evt) => {
      const id = evt.detail.toString()
      if (this.validators.has(id)) return
      this.gone.delete(id)
      this.gone.set(id, { peer: evt.detail, at: Date.now() })
    })
  }

  /** Gossip score of a peer as this node sees it (0 when unknown). */
  score (peer: string): number {
    const ps = this.node?.services.pubsub as { getScore?: (p: string) => number } | undefined
    return ps?.getScore?.(peer) ?? 0
  }

  private refuse (reason: RefusalReason): true {
    this.counts.refused[reason] = (this.counts.refused[reason] ?? 0) + 1
    this.refusedMetric?.inc({ reason })
    return true
  }

  private denyPending (maConn: MultiaddrConnection): boolean {
    const ip = ipOf(maConn.remoteAddr)
    if (ip === undefined) return false
    let set = this.pending.get(ip)
    if (set === undefined) { set = new Map(); this.pending.set(ip, set) }
    this.prunePending(set)
    if (set.size >= this.opts.maxPendingPerIp) return this.refuse('pending-per-ip')
    set.set(maConn, Date.now())
    return false
  }

  /**
   * Handshakes that ended (closed, or past libp2p's upgrade deadline: whatever became of them) are
   * no longer pending.
   */
  private prunePending (set: Map<MultiaddrConnection, number>): void {
    const old = Date.now() - PENDING_MAX_MS
    for (const [c, at] of set) if (c.timeline.close !== undefined || at < old) set.delete(c)
  }

  private denyPeer (peer: PeerId, addr: Multiaddr): boolean {
    const id = peer.toString()
    if (this.validators.has(id)) return false
    if (this.banned(id)) return this.refuse('banned-peer')
    const ip = ipOf(addr)
    // Checked once the peer is known: a validator behind the same address is never refused for it.
    if (ip !== undefined && this.expired(this.bannedIps, ip) === false) return this.refuse('banned-ip')
    const conns = this.node?.getConnections() ?? []
    let withPeer = 0
    let fromIp = 0
    let strangers = 0
    for (const c of conns) {
      const other = c.remotePeer.toString()
      if (other === id) withPeer++
      if (this.validators.has(other)) continue
      strangers++
      if (ip !== undefined && ipOf(c.remoteAddr) === ip) fromIp++
    }
    if (withPeer >= this.opts.maxPerPeer) return this.refuse('per-peer')
    if (ip !== undefined && fromIp >= this.opts.maxPerIp) return this.refuse('per-ip')
    if (strangers >= this.opts.maxStrangers) return this.refuse('strangers')
    return false
  }

  private banned (peer: string): boolean {
    return this.expired(this.bannedPeers, peer) === false
  }

  /** undefined: not in the map; true: was, and is now forgotten; false: still in force. */
  private expired (m: Map<string, number>, k: string): boolean | undefined {
    const until = m.get(k)
    if (until === undefined) return undefined
    if (until > Date.now()) return false
    m.delete(k)
    return true
  }

  private ban (m: Map<string, number>, k: string): void {
    m.delete(k)
    m.set(k, Date.now() + this.opts.banMs)
    if (m.size > MAX_BANS) m.delete(m.keys().next().value as string)
  }

  /** Deletes peer-store records of strangers gone for a while (and at once past MAX_BANS of them). */
  private forgetStrangers (): void {
    const node = this.node
    if (node === undefined) return
    const before = Date.now() - this.opts.forgetMs
    for (const [id, g] of this.gone) {
      if (g.at > before && this.gone.size <= MAX_BANS) break
      this.gone.delete(id)
      if (node.getConnections(g.peer).length === 0) void node.peerStore.delete(g.peer).catch(() => {})
    }
  }

  /**
   * Told of every gossip message of `peer` that was REJECTed (gossip.ts `onReject`): a stranger at
   * `rejectsToGraylist` is hung up on and banned at once, as on a graylisting score.
   */
  rejected (peer: string): void {
    if (this.validators.has(peer) || this.banned(peer)) return
    const now = Date.now()
    let r = this.rejects.get(peer)
    if (r === undefined || r.since < now - this.opts.banMs) {
      r = { n: 0, since: now }
      this.rejects.delete(peer)
      this.rejects.set(peer, r)
      if (this.rejects.size > MAX_BANS) this.rejects.delete(this.rejects.keys().next().value as string)
    }
    r.n++
    if (r.n < this.opts.rejectsToGraylist) return
    this.rejects.delete(peer)
    const conn = this.node?.getConnections().find(c => c.remotePeer.toString() === peer)
    if (conn !== undefined) this.graylist(conn, this.score(peer), 'rejected')
  }

  /** Hangs up on strangers below the graylist threshold and bans them; warns about validators. */
  private checkScores (): void {
    const node = this.node
    if (node === undefined) return
    for (const [ip, set] of this.pending) {
      this.prunePending(set)
      if (set.size === 0) this.pending.delete(ip)
    }
    const seen = new Set<string>()
    for (const c of node.getConnections()) {
      const id = c.remotePeer.toString()
      if (seen.has(id)) continue
      seen.add(id)
      const score = this.score(id)
      if (!this.validators.has(id) && inboundStreams(c) > this.opts.maxStreamsPerStranger) {
        if (!this.banned(id)) this.graylist(c, score, 'streams')
        continue
      }
      if (score >= SCORE_THRESHOLDS.graylistThreshold) continue
      if (this.validators.has(id)) {
        this.counts.graylisted++
        this.graylistedMetric?.inc()
        // Never disconnected for it (gossipsub still ignores its RPCs until its score recovers).
        this.log?.warn({ peer: id, score: Math.round(score) }, 'validator graylisted by gossip score')
        continue
      }
      if (!this.banned(id)) this.graylist(c, score, 'score')
    }
  }

  /** Bans a stranger (and its IP if its peers keep being graylisted) and hangs up on it. */
  private graylist (c: Connection, score: number, why: 'score' | 'rejected' | 'streams'): void {
    const node = this.node
    if (node === undefined) return
    const id = c.remotePeer.toString()
    this.counts.graylisted++
    this.graylistedMetric?.inc()
    const ip = ipOf(c.remoteAddr)
    this.ban(this.bannedPeers, id)
    let ipBanned = false
    if (ip !== undefined) {
      const now = Date.now()
      const times = (this.graylistedByIp.get(ip) ?? []).filter(t => t > now - this.opts.banMs)
      times.push(now)
      this.graylistedByIp.delete(ip)
      this.graylistedByIp.set(ip, times.slice(-this.opts.maxGraylistedPerIp))
      if (this.graylistedByIp.size > MAX_BANS) this.graylistedByIp.delete(this.graylistedByIp.keys().next().value as string)
      if (times.length >= this.opts.maxGraylistedPerIp) { this.ban(this.bannedIps, ip); ipBanned = true }
    }
    this.log?.warn({ peer: id, ip, score: Math.round(score), why, banMs: this.opts.banMs, ipBanned }, 'peer graylisted: hung up and banned')
    void node.hangUp(c.remotePeer).catch(() => {})
  }
}

/** Streams the remote peer opened on a connection (ours to it are not its doing). */
function inboundStreams (c: Connection): number {
  let n = 0
  for (const s of c.streams) if (s.direction === 'inbound') n++
  return n
}

/** The IP address of a TCP/WebSocket multiaddr; undefined for others (a relayed address, a socket path). */
export function ipOf (ma: Multiaddr): string | undefined {
  const tuples = ma.stringTuples()
  // A relayed connection's first address is the relay's, not the peer's.
  if (tuples.some(([code]) => code === P2P_CIRCUIT)) return undefined
  const [code, value] = tuples[0] ?? []
  return code === IP4 || code === IP6 ? value : undefined
}

const IP4 = 4
const IP6 = 41
const P2P_CIRCUIT = 290
