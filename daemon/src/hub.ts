import { createEmulator, type Bridge, type DeviceKeyFile } from '@ecandle/hardware-bridge'
import { createHubNode, Gossip, type HubNode } from '@ecandle/net'
import { fromHex, locationDegrees, peerIdFromPublicKey, signerFromSeed, topics, type Network, type Signer } from '@ecandle/protocol'
import { Store } from '@ecandle/store'
import { Ingest, SyncService } from '@ecandle/sync'
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { HubStatus } from '@ecandle/client'
import { Registry } from 'prom-client'
import { HubLog } from './hub-log.js'
import { CompositeBridge, createDeviceBridges, type NamedBridge } from './devices.js'
import { Agreement } from './agreement/driver.js'
import { topicLabels } from './metrics.js'
import type { HubConfig } from './config.js'

/**
 * One hub: its LevelDB, its libp2p node, gossip and sync of every hub's log, its own log fed
 * by its devices. Start order matters: store before network (nothing arrives before we can keep
 * it), network before devices (our entries have somewhere to go).
 */
export interface HubEvents {
  /** An entry of any hub was stored here (`storedAt`: our clock, ms). */
  entry: [{ hub: string, seq: number, id: string, epoch: number, time: number, reports: number, storedAt: number, reportIds: string[] }]
  evidence: [{ id: string, kind: string, offender: string, slot: number }]
  certificate: [{ epoch: number, valueId: string, signers: string[], countedMwh: string, paid: string }]
}

export class Hub {
  /** Stored entries and evidence, for the API's event stream. */
  readonly events = new EventEmitter<HubEvents>()
  readonly peerId: string
  readonly signer: Signer
  store!: Store
  node!: HubNode
  gossip!: Gossip
  ingest!: Ingest
  sync!: SyncService
  hubLog?: HubLog
  agreement!: Agreement
  /** Peers this hub refuses to talk to (a partition, set through the API in tests). */
  readonly blocked = new Set<string>()
  bridge?: Bridge
  readonly startedAt = Date.now()
  /** This hub's Prometheus metrics (libp2p, gossipsub; the API adds ecandle_ and process series). Not prom-client's global registry: one process may run several hubs. */
  readonly metrics = new Registry()

  constructor (readonly net: Network, seed: Uint8Array, readonly config: HubConfig, readonly log: Logger, private readonly deviceKeys?: DeviceKeyFile) {
    this.signer = signerFromSeed(seed)
    this.peerId = peerIdFromPublicKey(this.signer.publicKey)
    this.seed = seed
  }

  private readonly seed: Uint8Array

  get isValidator (): boolean { return this.net.hubs.has(this.peerId) }

  async start (): Promise<void> {
    const net = this.net
    this.store = await Store.open(this.config.dbPath, net.id)
    this.node = await createHubNode({ seed: this.seed, networkId: net.id, blocked: this.blocked, listen: this.config.listen, bootstrap: net.def.bootstrap.filter(a => !a.endsWith(this.peerId)), metrics: { registry: this.metrics, topicLabels: topicLabels(net.id) } })
    this.gossip = new Gossip(this.node.services.pubsub, this.log)
    this.ingest = new Ingest(net, this.store, this.log, {
      onEntry: (e, from) => {
        if (from === this.peerId) void this.gossip.publish(topics.entries(net.id), e.bytes)
        const p = e.payload
        if (this.events.listenerCount('entry') > 0) {
          this.events.emit('entry', { hub: p.hub, seq: p.seq, id: e.id.toString(), epoch: p.epoch, time: p.time, reports: p.reports.length, storedAt: Date.now(), reportIds: e.reports.map(r => `${r.report.device}:${r.report.counter}`) })
        }
      },
      onEvidence: (ev) => {
        void this.gossip.publish(topics.evidence(net.id), ev.bytes)
        this.events.emit('evidence', { id: ev.id, kind: ev.kind, offender: ev.offender, slot: ev.slot })
      },
      onGap: (_hub, _from, peer) => { this.sync.requestSync(peer) }
    })
    this.sync = new SyncService({ node: this.node, net, store: this.store, ingest: this.ingest, logger: this.log }, {
      intervalMs: this.config.syncIntervalMs, requestTimeoutMs: 10_000, concurrency: 2
    })
    this.gossip.subscribe(topics.entries(net.id), async (data, from) => { await this.ingest.accept(data, from) })
    this.gossip.subscribe(topics.evidence(net.id), async (data) => { await this.ingest.addEvidence(data) })
    await this.node.start()
    await this.sync.start()
    this.agreement = new Agreement(net, this.peerId, this.signer, this.store, this.node, this.gossip, this.ingest, this.sync, this.log.child({ component: 'agreement' }))
    this.agreement.onDecided = (rec, cert) => {
      this.events.emit('certificate', { epoch: rec.epoch, valueId: rec.valueId, signers: cert.signers, countedMwh: String(rec.totals.countedMwh), paid: String(rec.totals.paid) })
    }
    await this.agreement.start()
    if (this.isValidator) {
      this.hubLog = new HubLog(net, this.peerId, this.signer, this.store, this.ingest, this.log, {
        entryIntervalMs: this.config.entryIntervalMs, maxPending: 8192, maxReportAgeS: 30 * 86400
      })
      this.hubLog.start()
      // Every device link (emulator, serial ports, MQTT) behind one Bridge, fed into HubLog.
      const links: NamedBridge[] = []
      if (this.deviceKeys !== undefined && this.config.emulator !== undefined) {
        const mine = this.deviceKeys.devices.filter(d => net.devices.get(d.id)?.info.hub === this.peerId)
        const where = net.hubs.get(this.peerId)?.info.location
        links.push({
          name: 'emulator',
          bridge: createEmulator({
            devices: mine.map(d => ({ id: d.id, seed: fromHex(d.seed, `device ${d.id} seed`, 32), ratedWhPerDay: d.ratedWhPerDay })),
            // The sun model is local, not consensus: floating-point degrees are fine here.
            location: where === undefined ? undefined : locationDegrees(where),
            reportIntervalS: this.config.emulator.reportIntervalS,
            logger: this.log.child({ component: 'emulator' })
          })
        })
      }
      links.push(...createDeviceBridges(this.config.devices, { networkId: net.id, logger: this.log.child({ component: 'devices' }) }))
      if (links.length > 0) {
        const bridge = new CompositeBridge(links, this.log.child({ component: 'devices' }))
        await bridge.start(this.hubLog)
        this.bridge = bridge
      }
    } else {
      this.log.warn({ peerId: this.peerId }, 'this hub is not a validator of the network: following only')
    }
    this.log.info({ peerId: this.peerId, addrs: this.addrs(), network: net.id }, 'hub started')
  }

  async stop (): Promise<void> {
    await this.bridge?.stop().catch(err => this.log.warn({ err: String(err) }, 'bridge stop failed'))
    await this.hubLog?.stop()
    await this.agreement?.stop()
    await this.sync?.stop()
    await this.node?.stop()
    await this.store?.close()
  }

  addrs (): string[] {
    return this.node.getMultiaddrs().map(a => a.toString())
  }

  status (): HubStatus {
    const heads: HubStatus['heads'] = {}
    for (const [hub, h] of this.store.heads()) heads[hub] = { seq: h.seq, id: h.id.toString() }
    return {
      peerId: this.peerId,
      network: this.net.id,
      validator: this.isValidator,
      addrs: this.addrs(),
      peers: this.node.getPeers().length,
      heads,
      reports: this.store.reportCount,
      evidence: this.ingest.counts.evidence,
      uptimeS: Math.round((Date.now() - this.startedAt) / 1000),
      ingest: { ...this.ingest.counts },
      sync: { ...this.sync.counts },
      gossip: Object.fromEntries(this.gossip.results),
      log: this.hubLog === undefined ? undefined : { ...this.hubLog.counts },
      devices: this.bridge === undefined ? 0 : this.bridge.devices().length,
      deviceLinks: this.bridge instanceof CompositeBridge ? this.bridge.stats() : undefined,
      lastEpoch: this.agreement.lastDecided?.epoch ?? null,
      agreement: { ...this.agreement.counts }
    }
  }
}

// The shape of GET /status is the SDK's (apps read it), so there is one definition.
export type { HubStatus }

/** Partition control for tests: block (or unblock) peers and drop current connections to them. */
export async function setBlocked (hub: Hub, peers: string[]): Promise<void> {
  hub.blocked.clear()
  for (const p of peers) hub.blocked.add(p)
  for (const c of hub.node.getConnections()) {
    if (hub.blocked.has(c.remotePeer.toString())) await c.close().catch(() => {})
  }
}
