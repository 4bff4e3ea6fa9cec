import { autoNAT } from '@libp2p/autonat'
import { circuitRelayServer, circuitRelayTransport, type CircuitRelayService } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import type { Connection, IdentifyResult, Libp2pEvents, PeerId, PeerDiscovery, PeerInfo, Startable, Transport } from '@libp2p/interface'
import { randomBytes } from 'node:crypto'
import type { AddressManager, ConnectionManager, TransportManager } from '@libp2p/interface-internal'
import { mdns } from '@libp2p/mdns'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { uPnPNAT } from '@libp2p/upnp-nat'
import { webSockets } from '@libp2p/websockets'
import { isMultiaddr, multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { TypedEventTarget } from 'main-event'
import { addrScope, isRelayed, relayOf } from './addrs.js'

/**
 * Everything about how a hub is reached, in one place: transports (TCP with a hole-punching dial
 * port, WebSockets, circuit relay), the relay server of public hubs, AutoNAT, DCUtR, UPnP, mDNS,
 * and the `reach` service that keeps validators connected and says how this hub is reached.
 * See docs/networking.md.
 */
export interface ReachOptions {
  /** Addresses announced besides the listen addresses (a port forward, a TLS proxy's /wss). */
  announce?: string[]
  /** Find hubs on the LAN by multicast DNS (no bootstrap, no internet needed). */
  mdns?: boolean | { intervalMs?: number }
  /** Ask the router for a port mapping by UPnP IGD. */
  upnp?: boolean
  /** DCUtR hole punching; `port` is the local port every dial to a public address starts from. */
  holePunch?: false | { port: number }
  relay?: RelayOptions
  /** Peers to stay connected to (the network's validators at start; `setKeepConnected` changes them): redialled by peer id. */
  keepConnected?: string[]
  /** Multiaddrs redialled while not connected (bootstrap peers). */
  bootstrap?: string[]
  /** Redial period. */
  redialMs?: number
}

export interface RelayOptions {
  /** Run a circuit relay v2 server: 'auto' while this hub has a verified public address. */
  server?: 'auto' | 'on' | 'off'
  /** Relay slots to reserve while this hub has no verified public address (0: never). */
  reservations?: number
  /** Most reservations this hub's relay server holds for others. */
  maxReservations?: number
  /** A relayed connection through this hub lasts at most this long… */
  durationLimitS?: number
  /** …and carries at most this many bytes; then it is reset and redialled. */
  dataLimitBytes?: number
}

/** Sized for hub traffic (entries of up to ~66 KiB every few seconds, catch-up sync after an outage), not libp2p's 2 min / 128 KiB. */
export const relayDefaults: Required<RelayOptions> = { server: 'auto', reservations: 2, maxReservations: 64, durationLimitS: 3600, dataLimitBytes: 64 * 1024 * 1024 }

/** How a connection to a peer runs: a public address, a hole punch, a relay, or the LAN (or loopback). */
export type ConnectionKind = 'direct' | 'hole-punched' | 'relayed' | 'lan'

/** How this hub is reached (see docs/networking.md). */
export type Reachability = 'public' | 'hole-punched' | 'relayed' | 'lan' | 'outbound-only' | 'isolated'

/** Whether the NAT in front of us keeps our dial port (hole punching can work) or changes it. */
export type NatMapping = 'none' | 'port-preserving' | 'port-changing' | 'unknown'

export interface ReachSnapshot {
  state: Reachability
  /** Verified public addresses (AutoNAT, UPnP, announce). */
  publicAddrs: string[]
  /** Relays we hold a slot on. */
  relays: string[]
  relayServer: { running: boolean, reservations: number }
  nat: NatMapping
  /** Direct connections made by hole punching since start. */
  holePunches: number
  /** Connected peers by how they are connected. */
  peers: Record<ConnectionKind, number>
  /** `no-peers`, `all-peers-relayed`. */
  warnings: string[]
}

export interface PeerConnection { kind: ConnectionKind, relay?: string, addr: string, direction: 'inbound' | 'outbound' }

/** Shared between the TCP dialer, DCUtR and the reach service. */
class PunchState {
  /** Our public address with the dial port, once a public peer has seen us there. */
  addr?: Multiaddr
  nat: NatMapping = 'unknown'
  /** Remote addresses of connections we dialled from the punch port. */
  readonly fromPunchPort = new Set<string>()
  constructor (readonly port: number | undefined) {}
}

const ADDR_BUSY = new Set(['EADDRINUSE', 'EADDRNOTAVAIL'])
/** @libp2p/dcutr's dial priority (2.0.38, not exported). */
const DCUTR_DIAL_PRIORITY = 100

/**
 * TCP whose dials to public addresses start from one fixed local port. Node cannot share the
 * listen port (no SO_REUSEPORT on client sockets), but a NAT that keeps source ports maps every
 * dial from this port to the same public port: the address DCUtR gives the peer, which dials it
 * back at the same moment (TCP simultaneous open through both NATs).
 */
function punchingTcp (state: PunchState): (components: any) => Transport {
  const make = tcp()
  return (components) => {
    const t = make(components)
    const dial = t.dial.bind(t)
    const self = String(components.peerId)
    t.dial = async (ma: Multiaddr, options: any) => {
      if (state.port === undefined || isRelayed(ma) || addrScope(ma) !== 'public') return await dial(ma, options)
      // A hole punch is one TCP connection both sides dialled: exactly one of them must run the
      // handshakes as initiator. DCUtR asks for that (initiator: false) but libp2p 2.10's dial
      // queue drops the option; its dials are the ones at DCUtR's priority, so the lower peer id
      // initiates, on both sides alike.
      const remote = ma.getPeerId()
      const punch = options?.priority === DCUTR_DIAL_PRIORITY && remote !== null ? { initiator: self < remote } : {}
      try {
        const conn = await dial(ma, { ...options, ...punch, localPort: state.port })
        state.fromPunchPort.add(conn.remoteAddr.toString())
        return conn
      } catch (err: any) {
        // The port is taken towards that peer (TIME_WAIT of a closed connection): dial from any port.
        if (ADDR_BUSY.has(err?.code)) return await dial(ma, options)
        throw err
      }
    }
    return t
  }
}

/** DCUtR as shipped, told our hole-punch address besides the announced ones (which never carry it). */
function punchingDcutr (state: PunchState): (components: any) => unknown {
  const make = dcutr()
  return (components) => {
    const am: AddressManager = components.addressManager
    const addresses = {
      getAddresses: () => {
        const out = am.getAddresses()
        if (state.addr !== undefined) out.push(state.addr.encapsulate(`/p2p/${String(components.peerId)}`))
        return out
      }
    }
    return make(withComponents(components, { addressManager: addresses }))
  }
}

interface RelayComponents { addressManager: AddressManager, events: TypedEventTarget<Libp2pEvents> }

/** A circuit relay v2 server that runs always, never, or while this hub has a verified public address. */
class HubRelay implements Startable {
  private readonly inner: CircuitRelayService & Startable
  running = false
  private started = false

  constructor (private readonly components: RelayComponents, private readonly opts: Required<RelayOptions>) {
    this.inner = circuitRelayServer({
      reservations: {
        maxReservations: opts.maxReservations,
        applyDefaultLimit: true,
        defaultDurationLimit: opts.durationLimitS * 1000,
        defaultDataLimit: BigInt(opts.dataLimitBytes)
      }
    })(components as any) as CircuitRelayService & Startable
  }

  readonly [Symbol.toStringTag] = 'ecandle-relay'

  get reservations (): number { return this.running ? this.inner.reservations.size : 0 }

  async start (): Promise<void> {
    this.started = true
    if (this.opts.server === 'on') await this.setRunning(true)
    if (this.opts.server === 'auto') this.components.events.addEventListener('self:peer:update', this.check)
  }

  async stop (): Promise<void> {
    this.started = false
    this.components.events.removeEventListener('self:peer:update', this.check)
    await this.setRunning(false)
  }

  /** 'auto': serve while we have a verified public address. */
  readonly check = (): void => {
    if (this.opts.server !== 'auto' || !this.started) return
    void this.setRunning(publicAddrs(this.components.addressManager).length > 0).catch(() => {})
  }

  private async setRunning (on: boolean): Promise<void> {
    if (on === this.running) return
    this.running = on
    if (on) await this.inner.start()
    else await this.inner.stop()
  }
}

/**
 * libp2p's random walk loops without yielding to timers when the DHT answers at once (no peers
 * yet): the process freezes. This walk waits between rounds, and gives up with its signal.
 */
function pacedRandomWalk (components: any, pauseMs = 5000): { walk: (options?: { signal?: AbortSignal }) => AsyncGenerator<PeerInfo> } {
  return {
    async * walk (options) {
      const signal = options?.signal
      while (signal?.aborted !== true) {
        for await (const peer of components.peerRouting.getClosestPeers(randomBytes(32), { signal })) yield peer
        await new Promise<void>(resolve => {
          const t = setTimeout(done, pauseMs)
          function done (): void { clearTimeout(t); signal?.removeEventListener('abort', done); resolve() }
          signal?.addEventListener('abort', done, { once: true })
        })
      }
    }
  }
}

/** The same components with some replaced (a service's view of them). */
function withComponents (components: any, replace: Record<string, unknown>): any {
  return new Proxy(components, { get: (t, k) => typeof k === 'string' && k in replace ? replace[k] : Reflect.get(t, k) })
}

/**
 * AutoNAT's dial-backs (one multiaddr each; its random walk dials lists and is left alone):
 * - forced: a dial-back reaches the peer that asks, which we are connected to already; without
 *   `force` libp2p hands back that connection, which AutoNAT then closes, cutting the asker off
 *   before it gets the answer. A fresh connection is what the check is about anyway.
 * - one at a time per peer: libp2p 2.10's dial queue joins concurrent dials to one peer, forced or
 *   not, into one connection, which the first dial-back closes under the second, which then
 *   answers "dial error". A peer that asks twice at once (it has two connections to us) would
 *   then count our address as unreachable, and with one verifier per network segment, for good.
 */
export function autonatDials (cm: ConnectionManager): ConnectionManager {
  const pending = new Map<string, Promise<unknown>>()
  const dialBack = async (target: Multiaddr, options: any = {}): Promise<Connection> => {
    const key = target.getPeerId() ?? target.toString()
    const before = pending.get(key) ?? Promise.resolve()
    const mine = before.catch(() => {}).then(async () => await cm.openConnection(target, { ...options, force: true }))
    pending.set(key, mine)
    try {
      return await mine
    } finally {
      if (pending.get(key) === mine) pending.delete(key)
    }
  }
  return new Proxy(cm, {
    get: (t, k) => {
      if (k === 'openConnection') return async (target: any, options?: any) => Array.isArray(target) || !isMultiaddr(target) ? await t.openConnection(target, options) : await dialBack(target, options)
      const v = Reflect.get(t, k)
      return typeof v === 'function' ? v.bind(t) : v
    }
  })
}

/** Verified public, non-relayed addresses of ours. */
function publicAddrs (am: AddressManager): Multiaddr[] {
  return am.getAddressesWithMetadata().filter(a => a.verified && !isRelayed(a.multiaddr) && addrScope(a.multiaddr) === 'public').map(a => a.multiaddr)
}

interface ReachComponents {
  peerId: PeerId
  addressManager: AddressManager
  connectionManager: ConnectionManager
  transportManager: TransportManager
  events: TypedEventTarget<Libp2pEvents>
}

/**
 * The `reach` service: learns whether the NAT keeps our dial port, reserves relay slots while we
 * have no verified public address, keeps the network's validators and bootstrap peers connected,
 * marks hole-punched connections, and says how we are reached.
 */
export class ReachService implements Startable {
  private timer?: NodeJS.Timeout
  private readonly punched = new Set<string>()
  private holePunches = 0
  private relayListening = false
  private readonly dialing = new Set<string>()
  private stopped = true

  /** Peers kept connected: `keepConnected` at start, then what `setKeepConnected` says. */
  private keep: readonly string[]

  constructor (private readonly c: ReachComponents, private readonly opts: ReachOptions, private readonly punch: PunchState, private readonly relay: HubRelay) {
    this.keep = opts.keepConnected ?? []
  }

  /** The peers to keep connected from now on (the validators governance decided); redialled from the next tick. */
  setKeepConnected (ids: readonly string[]): void { this.keep = [...ids] }

  readonly [Symbol.toStringTag] = 'ecandle-reach'

  async start (): Promise<void> {
    this.stopped = false
    this.c.events.addEventListener('peer:identify', this.onIdentify)
    this.c.events.addEventListener('connection:open', this.onOpen)
    this.c.events.addEventListener('connection:close', this.onClose)
    this.c.events.addEventListener('peer:discovery', this.onDiscovery)
  }

  afterStart (): void {
    this.tick()
    this.timer = setInterval(() => { this.tick() }, this.opts.redialMs ?? 3000)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    this.c.events.removeEventListener('peer:identify', this.onIdentify)
    this.c.events.removeEventListener('connection:open', this.onOpen)
    this.c.events.removeEventListener('connection:close', this.onClose)
    this.c.events.removeEventListener('peer:discovery', this.onDiscovery)
  }

  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const { observedAddr, connection } = evt.detail
    if (this.punch.port === undefined || observedAddr === undefined || isRelayed(connection.remoteAddr)) return
    if (connection.direction !== 'outbound' || addrScope(connection.remoteAddr) !== 'public') return
    const o = observedAddr.toOptions()
    if (o.transport !== 'tcp' || addrScope(observedAddr) !== 'public') return
    if (!this.punch.fromPunchPort.has(connection.remoteAddr.toString())) return
    // A public peer saw us at our own address: no NAT. At our dial port: a NAT that keeps ports.
    const ours = this.c.transportManager.getAddrs().some(a => a.toOptions().host === o.host)
    if (ours) {
      this.punch.nat = 'none'
      this.punch.addr = undefined
    } else if (o.port === this.punch.port) {
      this.punch.nat = 'port-preserving'
      this.punch.addr = multiaddr(`/${o.family === 6 ? 'ip6' : 'ip4'}/${o.host}/tcp/${o.port}`)
    } else {
      this.punch.nat = 'port-changing'
      this.punch.addr = undefined
    }
  }

  private readonly onOpen = (evt: CustomEvent<Connection>): void => {
    const conn = evt.detail
    if (isRelayed(conn.remoteAddr)) return
    // A direct connection that opens while a relayed one to the same peer is up: DCUtR's work.
    const others = this.c.connectionManager.getConnections(conn.remotePeer)
    if (others.some(o => o.id !== conn.id && isRelayed(o.remoteAddr) && o.status === 'open')) {
      this.punched.add(conn.id)
      this.holePunches++
    }
  }

  private readonly onClose = (evt: CustomEvent<Connection>): void => {
    const conn = evt.detail
    this.punched.delete(conn.id)
  }

  private readonly onDiscovery = (evt: CustomEvent<{ id: PeerId }>): void => {
    const id = evt.detail.id.toString()
    if (this.keep.includes(id)) this.dial(id, evt.detail.id)
  }

  private tick (): void {
    if (this.stopped) return
    this.relay.check()
    this.maybeReserve()
    const connected = new Set(this.c.connectionManager.getConnections().map(c => c.remotePeer.toString()))
    const self = this.c.peerId.toString()
    for (const addr of this.opts.bootstrap ?? []) {
      const id = addr.split('/p2p/').pop()
      if (id === undefined || id === self || connected.has(id)) continue
      this.dial(id, multiaddr(addr))
    }
    for (const id of this.keep) {
      if (id === self || connected.has(id)) continue
      this.dial(id, peerIdFromString(id))
    }
  }

  /** One dial per peer at a time; failures are normal (offline, unreachable) and retried next tick. */
  private dial (id: string, target: PeerId | Multiaddr): void {
    if (this.stopped || this.dialing.has(id) || this.dialing.size >= 8) return
    this.dialing.add(id)
    void this.c.connectionManager.openConnection(target, { signal: AbortSignal.timeout(10_000) })
      .catch(() => {})
      .finally(() => { this.dialing.delete(id) })
  }

  /** While we have no verified public address, listen on relays (each /p2p-circuit is one reservation). */
  private maybeReserve (): void {
    const n = this.opts.relay?.reservations ?? relayDefaults.reservations
    if (this.relayListening || n <= 0 || publicAddrs(this.c.addressManager).length > 0) return
    this.relayListening = true
    void this.c.transportManager.listen(Array.from({ length: n }, () => multiaddr('/p2p-circuit'))).catch(() => { this.relayListening = false })
  }

  connectionKind (conn: Connection): PeerConnection {
    const addr = conn.remoteAddr
    const kind: ConnectionKind = isRelayed(addr) ? 'relayed' : this.punched.has(conn.id) ? 'hole-punched' : addrScope(addr) === 'public' ? 'direct' : 'lan'
    return { kind, relay: kind === 'relayed' ? relayOf(addr) : undefined, addr: addr.toString(), direction: conn.direction }
  }

  /** The best connection to each connected peer. */
  peers (): Map<string, PeerConnection> {
    const rank: Record<ConnectionKind, number> = { direct: 0, 'hole-punched': 1, lan: 2, relayed: 3 }
    const out = new Map<string, PeerConnection>()
    for (const conn of this.c.connectionManager.getConnections()) {
      if (conn.status !== 'open') continue
      const id = conn.remotePeer.toString()
      const k = this.connectionKind(conn)
      const have = out.get(id)
      if (have === undefined || rank[k.kind] < rank[have.kind]) out.set(id, k)
    }
    return out
  }

  snapshot (): ReachSnapshot {
    const peers: Record<ConnectionKind, number> = { direct: 0, 'hole-punched': 0, relayed: 0, lan: 0 }
    const rows = [...this.peers().values()]
    for (const p of rows) peers[p.kind]++
    const pub = publicAddrs(this.c.addressManager).map(a => a.toString())
    const relays = [...new Set(this.c.addressManager.getAddresses().filter(isRelayed).map(relayOf).filter((r): r is string => r !== undefined))]
    const state: Reachability = pub.length > 0
      ? 'public'
      : peers['hole-punched'] > 0 ? 'hole-punched' : relays.length > 0 ? 'relayed' : rows.length === 0 ? 'isolated' : peers.direct + peers.relayed === 0 ? 'lan' : 'outbound-only'
    const warnings: string[] = []
    if (rows.length === 0) warnings.push('no-peers')
    else if (peers.relayed === rows.length) warnings.push('all-peers-relayed')
    return {
      state,
      publicAddrs: pub,
      relays,
      relayServer: { running: this.relay.running, reservations: this.relay.reservations },
      nat: this.punch.port === undefined ? 'unknown' : this.punch.nat,
      holePunches: this.holePunches,
      peers,
      warnings
    }
  }
}

function pacedRelayTransport (): (components: any) => Transport {
  const make = circuitRelayTransport({ reservationCompletionTimeout: 10_000 })
  return (components) => make(withComponents(components, { randomWalk: pacedRandomWalk(components) }))
}

export interface ReachParts {
  transports: Array<(components: any) => Transport>
  services: Record<string, (components: any) => unknown>
  peerDiscovery: Array<(components: any) => PeerDiscovery>
}

/**
 * The transports, services and discovery of a hub (`reach` given) or a gossip observer (none: it
 * only dials, over TCP, WebSockets or a relay).
 */
export function reachParts (opts: ReachOptions | undefined): ReachParts {
  if (opts === undefined) {
    return { transports: [tcp(), webSockets(), pacedRelayTransport()], services: {}, peerDiscovery: [] }
  }
  const punch = new PunchState(opts.holePunch === false || opts.holePunch === undefined ? undefined : opts.holePunch.port)
  const relayOpts = { ...relayDefaults, ...opts.relay }
  let relay: HubRelay | undefined
  const services: Record<string, (components: any) => unknown> = {
    autonat: (components: any) => autoNAT()(withComponents(components, { randomWalk: pacedRandomWalk(components), connectionManager: autonatDials(components.connectionManager) })),
    relay: (components: RelayComponents) => (relay = new HubRelay(components, relayOpts)),
    reach: (components: ReachComponents) => new ReachService(components, opts, punch, relay!)
  }
  if (punch.port !== undefined) services.dcutr = punchingDcutr(punch)
  if (opts.upnp === true) services.upnp = uPnPNAT({ portMappingDescription: 'ecandle hub' })
  const m = opts.mdns
  return {
    transports: [punchingTcp(punch), webSockets(), pacedRelayTransport()],
    services,
    peerDiscovery: m === undefined || m === false ? [] : [mdns({ serviceTag: '_ecandle._udp.local', interval: m === true ? 10_000 : (m.intervalMs ?? 10_000) })]
  }
}
