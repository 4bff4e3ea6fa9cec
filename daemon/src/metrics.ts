import type { DeviceLinkStatus } from '@ecandle/hardware-bridge'
import type { GossipQueueStats } from '@ecandle/net'
import { topicLabels } from '@ecandle/protocol'
import { collectDefaultMetrics, Counter, Gauge, type Registry } from 'prom-client'
import { REACHABILITY, type HubStatus, type PeerInfo } from '@ecandle/api'

/**
 * Prometheus metrics of one hub, in the hub's own registry (`hub.metrics`, which libp2p and
 * gossipsub already fill). The ecandle_ series are read from `hub.status()` at scrape time, so
 * nothing on the hot path counts twice. Labels stay bounded: hub peer ids of the network, our
 * topic names, validation codes, device link names.
 */

const REACH_WARNINGS = ['no-peers', 'all-peers-relayed']

/** Device link stats that are levels, not running totals. */
const LINK_LEVELS = new Set(['queued', 'open'])

/** What the metrics read of a hub (a Hub is one). */
export interface MetricsSource {
  /** The registry libp2p and gossipsub already fill; the ecandle_ and process series are added to it. */
  readonly metrics: Registry
  readonly net: { readonly id: string }
  status: () => HubStatus
  /** Connected peers with how each is connected (GET /peers). */
  peers: () => PeerInfo[]
  readonly bridge?: { devices: () => DeviceLinkStatus[] }
  readonly gossip: { queueStats: () => GossipQueueStats[] }
}

/** GET /events clients (event-stream.ts). */
export interface EventStreamStats { readonly size: number, readonly counts: Record<string, number> }

export function createHubMetrics (hub: MetricsSource, eventStreams?: EventStreamStats): Registry {
  const registry = hub.metrics
  if (registry.getSingleMetric('ecandle_info') !== undefined) return registry
  const labels = topicLabels(hub.net.id)

  // One status() per scrape: every collector below reads the same snapshot.
  let snap: HubStatus | undefined
  let snapAt = 0
  const status = (): HubStatus => {
    if (snap === undefined || Date.now() - snapAt > 250) { snap = hub.status(); snapAt = Date.now() }
    return snap
  }
  const registers = [registry]
  const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => void): void => {
    new Gauge({ name, help, labelNames, registers, collect () { this.reset(); collect(this) } })
  }
  const counter = (name: string, help: string, labelNames: string[], collect: (c: Counter) => void): void => {
    new Counter({ name, help, labelNames, registers, collect () { this.reset(); collect(this) } })
  }
  /** Adds the numeric counters of `counts` (skipping `skip`) under `label`. */
  const fromCounts = (c: Counter, label: string, counts: Record<string, number> | undefined, skip: string[] = []): void => {
    for (const [k, v] of Object.entries(counts ?? {})) if (!skip.includes(k) && Number.isFinite(v) && v >= 0) c.inc({ [label]: k }, v)
  }

  gauge('ecandle_info', 'Always 1; labels say which hub this is', ['peer_id', 'network', 'validator'], g => {
    const s = status()
    g.set({ peer_id: s.peerId, network: s.network, validator: String(s.validator) }, 1)
  })
  gauge('ecandle_uptime_seconds', 'Seconds since the hub started', [], g => { g.set(status().uptimeS) })
  gauge('ecandle_reports_stored', 'Device reports held in this hub\'s store (all logs)', [], g => { g.set(status().reports) })
  gauge('ecandle_peers', 'Connected libp2p peers', [], g => { g.set(status().peers) })
  gauge('ecandle_reachability', 'How this hub is reached: 1 for the current state (public, hole-punched, relayed, lan, outbound-only, isolated)', ['state'], g => {
    const st = status().reach.state
    for (const k of REACHABILITY) g.set({ state: k }, k === st ? 1 : 0)
  })
  gauge('ecandle_peer_connections', 'Connected peers by how they are connected (direct, hole-punched, relayed, lan)', ['kind'], g => {
    for (const [kind, n] of Object.entries(status().reach.peers)) g.set({ kind }, n)
  })
  gauge('ecandle_peer_connection', 'Each connected hub of the network: 1, labelled with how it is connected and the relay (if relayed)', ['peer', 'kind', 'relay'], g => {
    for (const p of hub.peers()) if (p.validator) g.set({ peer: p.peerId, kind: p.connection, relay: p.relay ?? '' }, 1)
  })
  gauge('ecandle_relay_reservations', 'Relay slots: held by this hub on relays (client), and held for others by its relay server (server)', ['role'], g => {
    const r = status().reach
    g.set({ role: 'client' }, r.relays.length)
    g.set({ role: 'server' }, r.relayServer.reservations)
  })
  gauge('ecandle_reach_warning', 'Reachability warnings (no-peers, all-peers-relayed): 1 while raised', ['warning'], g => {
    const w = status().reach.warnings
    for (const k of REACH_WARNINGS) g.set({ warning: k }, w.includes(k) ? 1 : 0)
  })
  counter('ecandle_hole_punches_total', 'Direct connections made by hole punching (DCUtR) since start', [], c => { c.inc(status().reach.holePunches) })
  gauge('ecandle_log_head_seq', 'Seq of the last entry held of each hub\'s log', ['hub'], g => {
    for (const [h, head] of Object.entries(status().heads)) g.set({ hub: h }, head.seq)
  })
  gauge('ecandle_last_decided_epoch', 'Last epoch this hub holds a decision (certificate) for; absent before the first', [], g => {
    const e = status().lastEpoch
    if (e !== null) g.set(e)
  })
  gauge('ecandle_storage_writable', 'Whether the database takes writes (0: data disk full or a write failed; no report is acknowledged until it is 1 again)', ['reason'], g => {
    const w = status().storage
    if (w !== undefined) g.set({ reason: w.reason ?? '' }, w.writable ? 1 : 0)
  })
  gauge('ecandle_storage_free_bytes', 'Free bytes on the data disk at the last check', [], g => {
    const f = status().storage?.freeBytes
    if (f !== undefined) g.set(f)
  })
  gauge('ecandle_ingest_pending_bytes', 'Bytes of entries held back until the entries before them arrive', [], g => { g.set(status().ingest.pending ?? 0) })
  counter('ecandle_ingest_entries_total', 'Entries taken in from gossip, sync and our own log, by result (appended, duplicate)', ['result'], c => {
    fromCounts(c, 'result', status().ingest, ['pending', 'evidence'])
  })
  counter('ecandle_evidence_total', 'Equivocation evidence stored since start', [], c => { c.inc(status().evidence) })
  counter('ecandle_sync_total', 'Anti-entropy sync: rounds run, entries fetched, errors, requests served', ['event'], c => { fromCounts(c, 'event', status().sync) })
  counter('ecandle_agreement_total', 'Agreement: epochs decided, certificates adopted, proposals made, invalid messages, evidence', ['event'], c => { fromCounts(c, 'event', status().agreement) })
  counter('ecandle_hub_log_total', 'This hub\'s own log: reports stored, duplicate, refused, busy; entries written', ['event'], c => { fromCounts(c, 'event', status().log) })
  counter('ecandle_gossip_messages_total', 'Gossip messages validated, by topic, result (accept, reject, ignore) and code', ['topic', 'result', 'code'], c => {
    for (const [k, n] of Object.entries(status().gossip)) {
      const [topic, result, code] = k.split(' ')
      c.inc({ topic: labels[topic] ?? 'other', result: String(result).toLowerCase(), code: code ?? '' }, n)
    }
  })
  counter('ecandle_device_link_total', 'Running totals of each device link (emulator, serial, mqtt), by stat; serial ports summed', ['link', 'stat'], c => {
    for (const [link, stats] of Object.entries(status().deviceLinks ?? {})) {
      for (const [stat, v] of flatten(stats)) if (!LINK_LEVELS.has(stat)) c.inc({ link, stat }, v)
    }
  })
  gauge('ecandle_device_link_level', 'Levels of each device link: reports queued (emulator), ports open (serial)', ['link', 'stat'], g => {
    for (const [link, stats] of Object.entries(status().deviceLinks ?? {})) {
      for (const [stat, v] of flatten(stats)) if (LINK_LEVELS.has(stat)) g.set({ link, stat }, v)
    }
  })
  gauge('ecandle_gossip_queue_length', 'Gossip messages waiting for validation, by topic (bounded: see GOSSIP_QUEUES)', ['topic'], g => {
    for (const q of hub.gossip.queueStats()) g.set({ topic: q.topic }, q.length)
  })
  gauge('ecandle_gossip_queue_running', 'Gossip validations running now, by topic', ['topic'], g => {
    for (const q of hub.gossip.queueStats()) g.set({ topic: q.topic }, q.running)
  })
  counter('ecandle_gossip_queue_dropped_total', 'Gossip messages dropped by a full validation queue (answered IGNORE overloaded), by topic', ['topic'], c => {
    for (const q of hub.gossip.queueStats()) c.inc({ topic: q.topic }, q.dropped)
  })
  gauge('ecandle_devices', 'Devices known to this hub\'s links, by whether their link is up', ['state'], g => {
    const rows = hub.bridge?.devices() ?? []
    const up = rows.filter(r => r.connected).length
    g.set({ state: 'connected' }, up)
    g.set({ state: 'disconnected' }, rows.length - up)
  })

  if (eventStreams !== undefined) {
    gauge('ecandle_event_streams', 'GET /events clients connected now (at most 256)', [], g => { g.set(eventStreams.size) })
    counter('ecandle_event_streams_total', 'GET /events clients by outcome: opened, refused (503: too many), dropped (did not read: 64 KiB waiting)', ['outcome'], c => {
      fromCounts(c, 'outcome', eventStreams.counts)
    })
  }

  collectDefaultMetrics({ register: registry })
  return registry
}

/**
 * Numeric leaves of a link's stats as `a_b` names; arrays (one item per serial port) are summed,
 * booleans count as 1/0, strings and `spec` are skipped.
 */
function flatten (v: unknown, prefix = '', out = new Map<string, number>()): Map<string, number> {
  if (Array.isArray(v)) {
    for (const item of v) flatten(item, prefix, out)
  } else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) if (k !== 'spec') flatten(x, prefix === '' ? k : `${prefix}_${k}`, out)
  } else if ((typeof v === 'number' && Number.isFinite(v) && v >= 0) || typeof v === 'boolean') {
    if (prefix !== '') out.set(prefix, (out.get(prefix) ?? 0) + Number(v))
  }
  return out
}
