import { gossipsub, type GossipsubEvents } from '@chainsafe/libp2p-gossipsub'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import type { PeerId, PubSub, PrivateKey } from '@libp2p/interface'
import type { MetricsRegister } from '@chainsafe/libp2p-gossipsub/metrics'
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht'
import { ping, type Ping } from '@libp2p/ping'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p, type Libp2p } from 'libp2p'
import { gossipsubInterop, topicLabels } from '@ecandle/protocol'
import { Gauge, Histogram, type Registry } from 'prom-client'

export type HubServices = {
  identify: unknown
  ping: Ping
  pubsub: PubSub<GossipsubEvents>
  dht: KadDHT
}
export type HubNode = Libp2p<HubServices>

export interface HubNodeInit {
  /** 32-byte Ed25519 seed of the hub (or light peer) key. */
  seed: Uint8Array
  /** Network id: names the DHT protocol. */
  networkId: string
  listen: string[]
  bootstrap: string[]
  /** Peers this node refuses to talk to (a partition in tests). Mutable. */
  blocked?: Set<string>
  /** A light peer: DHT client mode, no listening needed. */
  light?: boolean
  /** Export libp2p and gossipsub metrics into this Prometheus registry (none when absent). */
  metrics?: HubNodeMetrics
  /** Connection manager limits (the daemon's resource profile); defaults below. */
  connectionLimits?: ConnectionLimits
}

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
  return await createLibp2p<HubServices>({
    privateKey: await privateKeyFromSeed(init.seed) as any,
    addresses: { listen: init.light === true ? [] : init.listen },
    // pages (issue 11), until reach's transports land: WebSockets too, so a `/ws` listen address
    // (off unless configured) lets browsers' light peers (the audit page) dial the hub.
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: init.bootstrap.length > 0 ? [bootstrap({ list: init.bootstrap, timeout: 500 })] : [],
    metrics: init.metrics === undefined ? undefined : prometheusMetrics({ registry: init.metrics.registry, collectDefaultMetrics: false }),
    connectionGater: {
      // Hubs talk on loopback and LANs; a partition in tests blocks chosen peers both ways.
      denyDialMultiaddr: () => false,
      denyDialPeer: isBlocked,
      denyInboundEncryptedConnection: isBlocked,
      denyOutboundEncryptedConnection: isBlocked
    },
    connectionManager: { ...(init.connectionLimits ?? defaultConnectionLimits) },
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        // Signature policy, message id and RPC bound: what every peer of the network shares.
        ...gossipsubInterop,
        allowPublishToZeroTopicPeers: true,
        scoreParams: {
          // Many hubs on one loopback IP is a testnet, not a Sybil attack.
          IPColocationFactorWhitelist: new Set(['127.0.0.1', '::1'])
        },
        // gossipsub 14 ignores libp2p's metrics component: it needs its own register.
        ...(init.metrics === undefined ? {} : gossipsubMetrics(init.metrics, init.networkId))
      }) as any,
      dht: kadDHT({
        protocol: `/ecandle/${init.networkId}/kad/1.0.0`,
        clientMode: init.light === true,
        // Community hubs sit on LANs and loopback testnets: keep private addresses.
        peerInfoMapper: passthroughMapper,
        allowQueryWithZeroPeers: true
      })
    }
  })
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
