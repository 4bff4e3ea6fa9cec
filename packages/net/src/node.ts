import type { GossipsubEvents } from '@chainsafe/libp2p-gossipsub'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { identify, identifyPush } from '@libp2p/identify'
import { isPeerId, type PeerId, type PubSub, type PrivateKey } from '@libp2p/interface'
import type { MetricsRegister } from '@chainsafe/libp2p-gossipsub/metrics'
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht'
import { ping, type Ping } from '@libp2p/ping'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { createLibp2p, type Libp2p } from 'libp2p'
import { gossipsubInterop, topicLabels } from '@ecandle/protocol'
import { Gauge, Histogram, type Registry } from 'prom-client'
import { announceFilter, isReachable, LocalSubnets } from './addrs.js'
import { bestConnection } from './connections.js'
import { hubGossipsub } from './gossipsub.js'
import { reachParts, type ReachOptions, type ReachService } from './reach.js'
import { Defences, defaultDefenceOptions, type DefenceLogger, type DefenceOptions } from './defences.js'
import { RPC_LIMITS, SCORE_THRESHOLDS, scoreParams } from './score.js'

export type HubServices = {
  identify: unknown
  ping: Ping
  pubsub: PubSub<GossipsubEvents>
  dht: KadDHT
  /** Hubs only (absent on observers): how this node is reached. */
  reach?: ReachService
  /** Connection limits, bans and the graylist watch (defences.ts). */
  defences: Defences
}
export type HubNode = Libp2p<HubServices>

export interface HubNodeInit {
  /** 32-byte Ed25519 seed of the node's key. */
  seed: Uint8Array
  /** Network id: names the DHT protocol. */
  networkId: string
  listen: string[]
  bootstrap: string[]
  /** Peers this node refuses to talk to (a partition in tests). Mutable. */
  blocked?: Set<string>
  /**
   * A gossip observer (tools and tests that watch the topics): no listener, DHT client mode, no reach
   * services. Not a light peer: an auditor asks hubs over the request/response protocols only and is
   * built by `createLightNode` (light-node.ts).
   */
  observer?: boolean
  /** Export libp2p and gossipsub metrics into this Prometheus registry (none when absent). */
  metrics?: HubNodeMetrics
  /** Connection manager limits (the daemon's resource profile); defaults below. */
  connectionLimits?: ConnectionLimits
  /** Relay, hole punching, AutoNAT, UPnP, mDNS, validators kept connected (reach.ts). Hubs only. */
  reach?: ReachOptions
  /**
   * The network's validators (always let in, favoured in scoring) and limits for strangers
   * (defences.ts); without it (tools, tests) every peer is a stranger under the default limits.
   */
  defences?: Partial<DefenceOptions> & { validators: readonly string[], log?: DefenceLogger }
}

/**
 * `maxConnections` bounds the strangers (defences.ts `maxStrangers`, at most its default);
 * libp2p's own limit is above it by a reserve for validators.
 */
export interface ConnectionLimits { maxConnections: number, maxIncomingPendingConnections: number, inboundConnectionThreshold: number }

export const defaultConnectionLimits: ConnectionLimits = {
  maxConnections: 300,
  // libp2p's default of 5 new inbound connections/s per host starves a loopback testnet.
  inboundConnectionThreshold: 100,
  maxIncomingPendingConnections: 50
}

export interface HubNodeMetrics {
  /** gossipsub's per-topic series are labelled with our short topic names (`topicLabels`); any other topic is 'other'. */
  registry: Registry
}

export async function privateKeyFromSeed (seed: Uint8Array): Promise<PrivateKey> {
  return await generateKeyPairFromSeed('Ed25519', seed)
}

export async function createHubNode (init: HubNodeInit): Promise<HubNode> {
  const blocked = init.blocked ?? new Set<string>()
  const isBlocked = (p: PeerId): boolean => blocked.has(p.toString())
  const subnets = new LocalSubnets()
  const reach = reachParts(init.observer === true ? undefined : init.reach)
  const limits = init.connectionLimits ?? defaultConnectionLimits
  const { log, ...opts } = init.defences ?? { validators: [] }
  const defences = new Defences({ maxStrangers: Math.min(defaultDefenceOptions.maxStrangers, limits.maxConnections), ...opts }, log, init.metrics?.registry)
  // Only the network's topics are scored and handled (score.ts): any other is dropped unread.
  const topics = Object.keys(topicLabels(init.networkId))
  const node = await createLibp2p<HubServices>({
    privateKey: await privateKeyFromSeed(init.seed) as any,
    addresses: {
      listen: init.observer === true ? [] : init.listen,
      appendAnnounce: init.reach?.announce ?? [],
      announceFilter: announceFilter(init.listen)
    },
    transports: reach.transports,
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: [...(init.bootstrap.length > 0 ? [bootstrap({ list: init.bootstrap, timeout: 500 })] : []), ...reach.peerDiscovery],
    metrics: init.metrics === undefined ? undefined : prometheusMetrics({ registry: init.metrics.registry, collectDefaultMetrics: false }),
    // Another village's LAN address is never kept nor dialled (addrs.ts): it only burns the dial's deadline.
    peerStore: { addressFilter: (_peer, ma) => isReachable(ma, subnets) },
    connectionGater: {
      // Another village's LAN address is never dialled (addrs.ts); a partition in tests blocks chosen peers both ways.
      denyDialMultiaddr: (ma) => !isReachable(ma, subnets),
      // Limits for strangers, bans; validators always let in (defences.ts).
      ...defences.gater(isBlocked)
    },
    connectionManager: {
      ...limits,
      // The profile's limit is the strangers'; libp2p's is above it by a reserve for validators.
      maxConnections: defences.libp2pMaxConnections
    },
    services: {
      identify: identify(),
      // Tells connected peers when our addresses or protocols change (a relay slot, the relay server).
      identifyPush: identifyPush(),
      ping: ping(),
      // gossipsub 14 with its streams kept on a live connection (a hole punch replaces the relayed one): gossipsub.ts.
      pubsub: hubGossipsub({
        // Signature policy, message id and RPC bound: what every peer of the network shares.
        ...gossipsubInterop,
        allowPublishToZeroTopicPeers: true,
        // Hubs that only reach each other through a relay still gossip (relayed connections are "limited").
        runOnLimitedConnection: true,
        // Peer scoring on our topics (no IP colocation term: a loopback testnet or a shared NAT is no Sybil), only our topics handled, bounded RPCs (score.ts).
        scoreParams: scoreParams(topics, p => defences.isValidator(p)),
        scoreThresholds: SCORE_THRESHOLDS,
        allowedTopics: new Set(topics),
        decodeRpcLimits: RPC_LIMITS,
        // gossipsub 14 ignores libp2p's metrics component: it needs its own register.
        ...(init.metrics === undefined ? {} : gossipsubMetrics(init.metrics, init.networkId))
      }) as any,
      dht: kadDHT({
        protocol: `/ecandle/${init.networkId}/kad/1.0.0`,
        clientMode: init.observer === true,
        // Private addresses are filtered by the peer store (kept only inside our own subnets).
        peerInfoMapper: passthroughMapper,
        allowQueryWithZeroPeers: true
      }),
      ...reach.services,
      defences: () => defences
    } as any
  })
  defences.attach(node)
  return onBestConnection(node)
}

/**
 * Protocol streams to a peer we are connected to run on the best open connection (connections.ts),
 * a relayed one included: libp2p 2.10's dialProtocol reuses unlimited connections only, so to a
 * peer reached through a relay it would dial the relay again for every request (and then refuse
 * the stream on the limited connection it gets back). Every protocol of ours runs on limited
 * connections (docs/networking.md).
 */
function onBestConnection (node: HubNode): HubNode {
  const dialProtocol = node.dialProtocol.bind(node)
  node.dialProtocol = async (peer, protocols, options = {}) => {
    const opts = { runOnLimitedConnection: true, ...options }
    const conn = isPeerId(peer) ? bestConnection(node.getConnections(peer)) : undefined
    return conn === undefined ? await dialProtocol(peer, protocols, opts) : await conn.newStream(protocols, opts)
  }
  return node
}

/** gossipsub looks labels up with `map.get(topic) ?? topic`: answering 'other' keeps peer-chosen topics out of the labels. */
class BoundedTopicLabels extends Map<string, string> {
  override get (topic: string): string { return super.get(topic) ?? 'other' }
}

function gossipsubMetrics (m: HubNodeMetrics, networkId: string): { metricsRegister: MetricsRegister, metricsTopicStrToLabel: Map<string, string> } {
  const labels = new BoundedTopicLabels(Object.entries(topicLabels(networkId)))
  return { metricsRegister: gossipsubMetricsRegister(m.registry, labels), metricsTopicStrToLabel: labels }
}

type Labels = Record<string, string | number>

/**
 * gossipsub's MetricsRegister on prom-client (gauges with scrape-time collectors, histograms,
 * avg/min/max gauges). A few gauges are labelled with raw topic strings (`topicStr`, any topic a
 * peer subscribes to): they get our short `topic` label instead, and other topics are left out.
 */
function gossipsubMetricsRegister (registry: Registry, topics: BoundedTopicLabels): MetricsRegister {
  const isLabels = (a: unknown): a is Labels => typeof a === 'object' && a !== null
  const names = (l?: string[]): string[] => (l ?? []).map(n => n === 'topicStr' ? 'topic' : n)
  const relabel = (l: Labels): Labels | undefined => {
    if (!('topicStr' in l)) return l
    const { topicStr, ...rest } = l
    const topic = topics.get(String(topicStr))
    return topic === 'other' ? undefined : { ...rest, topic }
  }
  return {
    gauge (cfg: { name: string, help: string, labelNames?: string[] }) {
      const collectors: Array<(g: unknown) => void> = []
      const g: Gauge = new Gauge({
        name: cfg.name,
        help: cfg.help,
        labelNames: names(cfg.labelNames),
        registers: [registry],
        collect () { for (const c of collectors) c(adapter) }
      })
      const adapter = {
        inc: (a?: Labels | number, b?: number): void => {
          if (!isLabels(a)) { g.inc(a ?? 1); return }
          const l = relabel(a)
          if (l !== undefined) g.inc(l, b ?? 1)
        },
        set: (a: Labels | number, b?: number): void => {
          if (!isLabels(a)) { g.set(a); return }
          const l = relabel(a)
          if (l !== undefined) g.set(l, b ?? 0)
        },
        addCollect: (fn: (g: unknown) => void): void => { collectors.push(fn) }
      }
      return adapter
    },
    histogram (cfg: { name: string, help: string, labelNames?: string[], buckets?: number[] }) {
      const h = new Histogram({ name: cfg.name, help: cfg.help, labelNames: names(cfg.labelNames), buckets: cfg.buckets, registers: [registry] })
      return {
        startTimer: () => h.startTimer(),
        observe: (a: Labels | number, b?: number): void => {
          if (!isLabels(a)) { h.observe(a); return }
          const l = relabel(a)
          if (l !== undefined) h.observe(l, b ?? 0)
        },
        reset: (): void => { h.reset() }
      }
    },
    avgMinMax (cfg: { name: string, help: string, labelNames?: string[] }) {
      const make = (suffix: string): Gauge => new Gauge({ name: `${cfg.name}_${suffix}`, help: `${cfg.help} (${suffix})`, labelNames: names(cfg.labelNames), registers: [registry] })
      const [avg, min, max] = [make('avg'), make('min'), make('max')]
      return {
        set: (a: Labels | number[], b?: number[]): void => {
          const l = isLabels(a) && !Array.isArray(a) ? relabel(a) : {}
          const values = Array.isArray(a) ? a : (b ?? [])
          if (l === undefined || values.length === 0) return
          let sum = 0
          let lo = Infinity
          let hi = -Infinity
          for (const v of values) { sum += v; if (v < lo) lo = v; if (v > hi) hi = v }
          avg.set(l, sum / values.length)
          min.set(l, lo)
          max.set(l, hi)
        }
      }
    }
  } as unknown as MetricsRegister
}
