import type { DeviceKeyFile } from '@ecandle/emulator'
import { createHubNode, Gossip, peerIdFromString, type HubNode } from '@ecandle/net'
import { admissionLookup, decodeEntry, peerIdFromPublicKey, signerFromSeed, topics, verifyContinuation, type Network, type Signer } from '@ecandle/protocol'
import { Store } from '@ecandle/store'
import { Ingest, SyncService } from '@ecandle/sync'
import { fetchCertificatePage } from '@ecandle/wire'
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { HubEventMap, HubStatus, PeerInfo, ReachStatus } from '@ecandle/api'
import { Registry } from 'prom-client'
import { HubLog } from './hub-log.js'
import { OwnLogCatchUp } from './own-log-catch-up.js'
import { DeviceLinks } from './device-links.js'
import { Agreement } from './agreement/agreement.js'
import { VoteGuard } from './agreement/vote-guard.js'
import { TallyServer } from './agreement/tally-server.js'
import { systemClock } from './agreement/clock.js'
import { AgreementDb, agreementMigrations } from './db/index.js'
import { startParts, stopParts, type Part } from './lifecycle.js'
import { ClockSkew } from './clock-skew.js'
import { weightsAfter } from './agreement/value.js'
import { GovChain } from './governance/chain.js'
import { Governance } from './governance/service.js'
import type { HubConfig } from './config.js'
import { ReachWatch } from './reach-watch.js'

/** What the hub emits for GET /events: the contract's event payloads, by event type. */
export type HubEvents = { [K in keyof HubEventMap]: [HubEventMap[K]] }

/**
 * One hub: its LevelDB, its libp2p node, gossip and sync of every hub's log, agreement, its own log
 * fed by its devices. Its parts start in the order of `parts` and stop in reverse: store before
 * network (nothing arrives before we can keep it), network before sync and agreement, those before
 * our own log and devices (our entries have somewhere to go).
 */
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
  tallyServer!: TallyServer
  /** The network state per epoch (governance), rebuilt from the decided chain at start. */
  readonly chain: GovChain
  governance!: Governance
  /** Every device link (emulator, serial, MQTT), on validators. */
  bridge?: DeviceLinks
  /** Peers this hub refuses to talk to (a partition, set through the API in tests). */
  readonly blocked = new Set<string>()
  readonly startedAt = Date.now()
  /** This hub's Prometheus metrics (libp2p, gossipsub; the API adds ecandle_ and process series). Not prom-client's global registry: one process may run several hubs. */
  readonly metrics = new Registry()
  private started: Part[] = []
  /** This hub's clock, unix ms: the system clock plus `clockOffsetMs` (0 but in clock-skew tests). */
  readonly now: () => number
  /** Our clock against the other hubs' (from their entries' signed times), for doctor and /health. */
  readonly clockSkew: ClockSkew
  /** What this key signed in consensus (beside hub.key; agreement/vote-guard.ts). */
  voteGuard?: VoteGuard

  constructor (readonly net: Network, seed: Uint8Array, readonly config: HubConfig, readonly log: Logger, private readonly deviceKeys?: DeviceKeyFile) {
    this.signer = signerFromSeed(seed)
    this.peerId = peerIdFromPublicKey(this.signer.publicKey)
    this.seed = seed
    const offset = config.clockOffsetMs
    this.now = offset === 0 ? Date.now : () => Date.now() + offset
    this.clockSkew = new ClockSkew(this.now, this.peerId)
    this.chain = new GovChain(net)
  }

  private readonly seed: Uint8Array

  /** A validator of the next epoch to decide (governance adds and removes validators). */
  get isValidator (): boolean { return this.chain.isValidator(this.peerId, this.chain.latest.epoch) }

  async start (): Promise<void> {
    const net = this.net
    const profile = this.config.profile
    // A continued network runs only with every remaining operator's endorsement (docs/governance.md §8).
    if (net.def.continues !== undefined) verifyContinuation(net)
    if (this.config.clockOffsetMs !== 0) this.log.warn({ clockOffsetMs: this.config.clockOffsetMs }, 'clockOffsetMs is set: this hub\'s clock is shifted (for tests only)')
    const store = this.store = await Store.open(this.config.dbPath, net.id, {
      ...profile.leveldb,
      migrations: agreementMigrations(),
      onMigrate: (m) => { this.log.info({ from: m.from, change: m.name }, 'migrating the database') },
      minFreeBytes: this.config.minFreeDiskBytes,
      onWritable: (w) => {
        if (w.writable) this.log.info({ freeBytes: w.freeBytes }, 'data disk writable again: storing and acknowledging reports')
        else this.log.error({ reason: w.reason, freeBytes: w.freeBytes, why: w.message }, 'data disk cannot be written: no report is acknowledged or stored until space returns (reads go on)')
      }
    })
    try {
      const bootstrap = [...new Set([...net.def.bootstrap, ...this.config.bootstrap])].filter(a => !a.endsWith(`/p2p/${this.peerId}`))
      const r = this.config.reach
      const node = this.node = await createHubNode({
        seed: this.seed,
        networkId: net.id,
        blocked: this.blocked,
        listen: this.config.listen,
        bootstrap,
        metrics: { registry: this.metrics },
        connectionLimits: profile.connections,
        reach: {
          announce: this.config.announce,
          mdns: r.mdns,
          upnp: r.upnp,
          holePunch: r.holePunchPort === undefined ? false : { port: r.holePunchPort },
          relay: r.relay,
          keepConnected: this.chain.liveValidators,
          bootstrap
        },
        defences: { validators: this.chain.liveValidators, log: this.log.child({ component: 'defences' }) }
      })
      this.followValidators()
      this.gossip = new Gossip(node.services.pubsub, this.log, net.id)
      this.gossip.onReject = (peer) => { node.services.defences.rejected(peer) }
      this.ingest = new Ingest(net, store, this.log, {
        onEntry: (e, from) => {
          if (from === this.peerId) void this.gossip.publish(topics.entries(net.id), e.bytes)
          const p = e.payload
          if (from !== this.peerId) this.clockSkew.sample(p.hub, p.time)
          this.agreement?.onEntry(p.hub)
          if (this.events.listenerCount('entry') > 0) {
            this.events.emit('entry', { hub: p.hub, seq: p.seq, id: e.id.toString(), epoch: p.epoch, time: p.time, reports: p.reports.length, storedAt: Date.now(), reportIds: e.reports.map(r => `${r.report.device}:${r.report.counter}`) })
          }
        },
        onEvidence: (ev) => {
          void this.gossip.publish(topics.evidence(net.id), ev.bytes)
          this.events.emit('evidence', { id: ev.id, kind: ev.kind, offender: ev.offender, slot: ev.slot })
        },
        onGap: (_hub, _from, peer) => { this.sync.requestSync(peer) }
      }, this.now, () => admissionLookup(this.chain.latest), () => ({ lookup: admissionLookup(this.chain.latest), validators: this.chain.validatorsAt }))
      this.sync = new SyncService({ node, net, store, ingest: this.ingest, logger: this.log, isHub: (h) => this.chain.latest.hubs.has(h) }, {
        intervalMs: this.config.syncIntervalMs, requestTimeoutMs: 10_000, concurrency: profile.syncConcurrency
      })
      this.gossip.subscribe(topics.entries(net.id), async (data, from) => {
        try {
          await this.ingest.accept(data, from)
        } catch (err) {
          // Ignored as from our future: our clock may be the one behind. Rare, so decoding again is fine.
          if ((err as { code?: string })?.code === 'future') {
            try { const p = decodeEntry(data).payload; this.clockSkew.sample(p.hub, p.time) } catch {}
          }
          throw err
        }
      })
      this.gossip.subscribe(topics.evidence(net.id), async (data) => { await this.ingest.addEvidence(data) })
      const db = new AgreementDb(store, net, this.chain.validatorsAt)
      const guard = this.voteGuard = await VoteGuard.load(this.config.voteGuardPath, { network: net.id, hub: this.peerId })
      if (guard.problem !== undefined) this.log.error({ problem: guard.problem }, 'vote guard unreadable: this hub votes in no epoch until it is fixed (see `ecandle doctor`)')
      const ownLog = new OwnLogCatchUp(() => this.chain.liveValidators, this.peerId, store, this.sync, this.log, this.now)
      this.governance = new Governance({
        net, chain: this.chain, resolutions: db.resolutions, poolRepo: db.pool, gossip: this.gossip, node,
        weights: () => weightsAfter(net, this.agreement.lastDecided), logger: this.log.child({ component: 'governance' })
      })
      this.agreement = new Agreement({
        net, self: this.peerId, signer: this.signer, logs: store, db, gossip: this.gossip, sync: this.sync, node,
        peers: {
          peers: () => node.getPeers().map(p => p.toString()),
          page: async (peer, from, opts) => await fetchCertificatePage(node, peerIdFromString(peer), net.id, { from }, opts)
        },
        addEvidence: async (b) => await this.ingest.addEvidence(b),
        logger: this.log.child({ component: 'agreement' }),
        clock: { ...systemClock, now: this.now },
        chain: this.chain,
        gov: this.governance,
        guard,
        ownLog
      })
      this.agreement.onDecided = (rec, cert) => {
        // The registry or validator set may have grown: entries held back for it are tried again.
        if (this.ingest.waitingCount > 0) void this.ingest.retryWaiting().catch((err: unknown) => { this.log.warn({ err: String(err) }, 'retrying waiting entries failed') })
        this.events.emit('certificate', { epoch: rec.epoch, valueId: rec.valueId, signers: cert.signers, countedMwh: String(rec.totals.countedMwh), paid: String(rec.totals.paid) })
      }
      this.tallyServer = new TallyServer({ net, node, records: db.records, logger: this.log })
      const parts: Part[] = [
        { name: 'network', component: node },
        { name: 'sync', component: this.sync },
        { name: 'agreement', component: this.agreement },
        { name: 'governance', component: this.governance },
        { name: 'tally server', component: this.tallyServer },
        // Logs how the hub is reached when that changes, and what the operator can do.
        { name: 'reach watch', component: new ReachWatch(() => this.reach(), this.log.child({ component: 'reach' }), this.config) }
      ]
      // Every hub runs its log and device links: one that is not (yet) a validator follows the network
      // and takes no report until governance adds it and registers devices to it (docs/governance.md §7).
      this.hubLog = new HubLog(net, this.peerId, this.signer, store, this.ingest, this.log, {
        entryIntervalMs: this.config.entryIntervalMs, maxPending: profile.hubLogMaxPending, maxReportAgeS: 30 * 86400
      }, this.now, () => this.chain.latest, ownLog)
      this.bridge = new DeviceLinks({ net, self: this.peerId, host: this.hubLog, config: this.config, deviceKeys: this.deviceKeys, logger: this.log })
      parts.push({ name: 'hub log', component: this.hubLog }, { name: 'device links', component: this.bridge })
      this.started = await startParts(parts, this.log)
    } catch (err) {
      await store.close()
      throw err
    }
    if (!this.isValidator) this.log.warn({ peerId: this.peerId, epoch: this.chain.latest.epoch }, 'this hub is not a validator of the next epoch: following only (governance can add it)')
    this.log.info({ peerId: this.peerId, addrs: this.addrs(), network: net.id }, 'hub started')
  }

  /**
   * The defences and reach follow the validators governance decides (`GovChain.liveValidators`), told
   * on every new state that changes them (each decision; the replay at start included).
   */
  private followValidators (): void {
    let key = ''
    const follow = (): void => {
      const s = this.chain.latest
      if (s.validators.hash + s.next.hash === key) return
      key = s.validators.hash + s.next.hash
      const ids = this.chain.liveValidators
      this.node.services.defences.setValidators(ids)
      this.node.services.reach?.setKeepConnected(ids)
    }
    this.chain.onAdvance = follow
    follow()
  }

  /** Stops every part in reverse start order, then closes the store. */
  async stop (): Promise<void> {
    const parts = this.started
    this.started = []
    await stopParts(parts, this.log)
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
      devices: this.bridge?.devices().length ?? 0,
      deviceLinks: this.bridge?.stats(),
      lastEpoch: this.agreement.lastDecided?.epoch ?? null,
      agreement: { ...this.agreement.counts },
      reach: this.reach(),
      storage: this.store.writable
    }
  }

  /** How this hub is reached (GET /status `reach`). */
  reach (): ReachStatus {
    const snap = this.node.services.reach?.snapshot()
    if (snap === undefined) throw new Error('hub node has no reach service')
    return { ...snap, upnp: this.config.reach.upnp, mdns: this.config.reach.mdns }
  }

  /** Connected peers, one row each, with how we are connected (GET /peers). */
  peers (): PeerInfo[] {
    const rows = new Map<string, PeerInfo>()
    const best = this.node.services.reach?.peers() ?? new Map()
    for (const c of this.node.getConnections()) {
      if (c.status !== 'open') continue
      const peerId = c.remotePeer.toString()
      const how = best.get(peerId)
      const row: PeerInfo = rows.get(peerId) ?? { peerId, addrs: [], validator: this.node.services.defences.isValidator(peerId), direction: how?.direction ?? c.direction, connection: how?.kind ?? 'lan', relay: how?.relay, score: Math.round(this.node.services.defences.score(peerId) * 100) / 100 }
      const addr = c.remoteAddr.toString()
      if (!row.addrs.includes(addr)) row.addrs.push(addr)
      rows.set(peerId, row)
    }
    return [...rows.values()]
  }
}

/** Partition control for tests: block (or unblock) peers and drop current connections to them. */
export async function setBlocked (hub: Hub, peers: string[]): Promise<void> {
  hub.blocked.clear()
  for (const p of peers) hub.blocked.add(p)
  for (const c of hub.node.getConnections()) {
    if (hub.blocked.has(c.remotePeer.toString())) await c.close().catch(() => {})
  }
}
