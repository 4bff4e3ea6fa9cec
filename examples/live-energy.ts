/**
 * live-energy: energy per community, live from the network's gossip.
 *
 *   node examples/dist/live-energy.js --network .testnet/network.json --peer /ip4/127.0.0.1/tcp/4001/p2p/12D3Koo… [--seconds N] [--json]
 *
 * It runs its own small libp2p node (no hub code), dials one hub, and follows the entries and
 * certificates topics with @ecandle/client, which verifies every hub and device signature before
 * anything is counted here; certificates it lacks it also asks the hub for over the sync protocol.
 * It trusts no hub: a hub can only withhold data, not invent it.
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { gossipsub } from '@chainsafe/libp2p-gossipsub'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { fetchCertificates, gossipsubConfig, parseNetwork, subscribeNetwork, type CertificateMessage, type EntryMessage, type Network } from '@ecandle/client'

const USAGE = 'usage: live-energy --network FILE --peer MULTIADDR [--seconds N] [--json] [--every S]'
/** Entries remembered per community (for segment sums and the summary); older ones are forgotten. */
const MAX_ENTRIES_PER_HUB = 4096
const MAX_CERTIFICATES = 64

interface EntryFigures { reports: number, energyMwh: number }

/** What we have seen of one community (one hub and its devices). */
class Community {
  readonly devices = new Set<string>()
  reports = 0
  energyMwh = 0
  entries = 0
  lastSeq = 0
  lastEntryAt = 0
  readonly bySeq = new Map<number, EntryFigures>()

  constructor (readonly hub: string, readonly name: string) {}

  add (e: EntryMessage): void {
    if (this.bySeq.has(e.seq)) return // gossip delivers each message once; be safe anyway
    const f: EntryFigures = { reports: e.reports.length, energyMwh: 0 }
    for (const r of e.reports) {
      this.devices.add(r.device)
      f.energyMwh += r.energyMwh
    }
    this.bySeq.set(e.seq, f)
    if (this.bySeq.size > MAX_ENTRIES_PER_HUB) this.bySeq.delete(Math.min(...this.bySeq.keys()))
    this.entries++
    this.reports += f.reports
    this.energyMwh += f.energyMwh
    this.lastSeq = Math.max(this.lastSeq, e.seq)
    this.lastEntryAt = Date.now()
  }

  /** Energy of the received entries in (from, to]; complete when none of them is missing. */
  segment (from: number, to: number): { energyMwh: number, reports: number, complete: boolean } {
    let energyMwh = 0
    let reports = 0
    let complete = true
    for (let s = from + 1; s <= to; s++) {
      const f = this.bySeq.get(s)
      if (f === undefined) { complete = false; continue }
      energyMwh += f.energyMwh
      reports += f.reports
    }
    return { energyMwh, reports, complete }
  }
}

class LiveEnergy {
  readonly communities: Community[]
  private readonly byHub = new Map<string, Community>()
  readonly certificates = new Map<number, CertificateMessage & { via: 'gossip' | 'sync' }>()
  invalid = 0
  readonly invalidCodes: Record<string, number> = {}

  constructor (readonly net: Network) {
    // The network file names the hubs: community i is validator i (`hub-<i+1>`, as `ecandle testnet` numbers them).
    this.communities = net.def.validators.map((v, i) => {
      const where = v.location === undefined ? '' : ` (${(v.location.latE6 / 1e6).toFixed(2)}, ${(v.location.lonE6 / 1e6).toFixed(2)})`
      return new Community(v.peerId, `hub-${i + 1} …${v.peerId.slice(-6)}${where}`)
    })
    for (const c of this.communities) this.byHub.set(c.hub, c)
  }

  onEntry (e: EntryMessage): void { this.byHub.get(e.hub)?.add(e) }

  /** True when the certificate is new here. */
  onCertificate (c: CertificateMessage, via: 'gossip' | 'sync'): boolean {
    if (this.certificates.has(c.epoch)) return false
    this.certificates.set(c.epoch, { ...c, via })
    if (this.certificates.size > MAX_CERTIFICATES) this.certificates.delete(Math.min(...this.certificates.keys()))
    return true
  }

  /** The epoch to ask certificates from: after the last one seen, or a few epochs back at start. */
  nextCertificateEpoch (): number {
    if (this.certificates.size > 0) return Math.max(...this.certificates.keys()) + 1
    const current = Math.floor((Date.now() / 1000 - this.net.def.genesisTime) / this.net.def.epochLengthS)
    return Math.max(0, current - 3)
  }

  /**
   * The latest certificate and, per community, the energy of its segment: the reports in entries after
   * the previous certified cut up to this one. Only entries received here are summed (`complete` says
   * whether any is missing); the tally may count less (device caps, equivocation).
   */
  certified (): { epoch: number, valueId: string, signers: number, perHub: Map<string, { energyMwh: number, reports: number, complete: boolean }> } | undefined {
    if (this.certificates.size === 0) return undefined
    const c = this.certificates.get(Math.max(...this.certificates.keys()))!
    const before = this.certificates.get(c.epoch - 1)
    const prevCut = before !== undefined && before.valueId === c.prev ? before.cut : undefined
    const perHub = new Map<string, { energyMwh: number, reports: number, complete: boolean }>()
    c.cut.forEach((item, i) => {
      const from = prevCut?.[i]?.seq ?? (c.prev === null ? 0 : undefined)
      const seg = this.byHub.get(item.hub)?.segment(from ?? 0, item.seq) ?? { energyMwh: 0, reports: 0, complete: false }
      perHub.set(item.hub, { ...seg, complete: seg.complete && from !== undefined })
    })
    return { epoch: c.epoch, valueId: c.valueId, signers: c.signers.length, perHub }
  }

  rows (): object[] {
    const cert = this.certified()
    return this.communities.map(c => ({
      hub: c.hub,
      name: c.name,
      devices: c.devices.size,
      reports: c.reports,
      entries: c.entries,
      energyMwh: c.energyMwh,
      energyWh: c.energyMwh / 1000,
      lastSeq: c.lastSeq,
      certified: cert === undefined ? null : { epoch: cert.epoch, ...cert.perHub.get(c.hub) }
    }))
  }

  table (elapsedS: number, peer: string): string {
    const cert = this.certified()
    const pad = (s: string | number, n: number): string => String(s).padStart(n)
    const lines = [
      `live energy · ${this.net.def.name} (${this.net.id.slice(0, 8)}…) · via …${peer.slice(-8)} · ${elapsedS} s` +
        (cert === undefined ? ' · no certificate yet' : ` · last certified epoch ${cert.epoch} (${cert.signers} signers)`),
      `${'community'.padEnd(36)}${pad('devices', 8)}${pad('reports', 9)}${pad('energy Wh', 12)}${pad('last entry', 16)}${pad('certified Wh', 14)}`
    ]
    for (const c of this.communities) {
      const ago = c.lastEntryAt === 0 ? '-' : `#${c.lastSeq} ${Math.round((Date.now() - c.lastEntryAt) / 1000)}s ago`
      const seg = cert?.perHub.get(c.hub)
      const certWh = seg === undefined ? '-' : `${(seg.energyMwh / 1000).toFixed(3)}${seg.complete ? '' : '+'}`
      lines.push(`${c.name.padEnd(36)}${pad(c.devices.size, 8)}${pad(c.reports, 9)}${pad((c.energyMwh / 1000).toFixed(3), 12)}${pad(ago, 16)}${pad(certWh, 14)}`)
    }
    if (cert !== undefined) lines.push(`(certified Wh: reports received here in epoch ${cert.epoch}'s certified segment; + = some entries of it were not received)`)
    if (this.invalid > 0) lines.push(`invalid messages dropped: ${JSON.stringify(this.invalidCodes)}`)
    return lines.join('\n')
  }

  summary (elapsedS: number, peer: string, node: string): object {
    const rows = this.rows()
    return {
      type: 'summary',
      network: this.net.id,
      name: this.net.def.name,
      peer,
      node,
      seconds: elapsedS,
      communities: this.communities.map((c, i) => ({ ...rows[i], deviceIds: [...c.devices].sort(), seqs: [...c.bySeq.keys()].sort((a, b) => a - b) })),
      certificates: [...this.certificates.values()].sort((a, b) => a.epoch - b.epoch).map(c => ({ epoch: c.epoch, valueId: c.valueId, root: c.root, round: c.round, signers: c.signers, cut: c.cut.map(x => x.seq), via: c.via })),
      invalid: this.invalid,
      invalidCodes: this.invalidCodes
    }
  }
}

function fail (msg: string): never {
  process.stderr.write(`live-energy: ${msg}\n${USAGE}\n`)
  process.exit(2)
}

async function main (): Promise<void> {
  let args
  try {
    args = parseArgs({ options: { network: { type: 'string' }, peer: { type: 'string' }, seconds: { type: 'string' }, json: { type: 'boolean', default: false }, every: { type: 'string', default: '5' } } }).values
  } catch (err: any) {
    fail(String(err?.message ?? err))
  }
  if (args.network === undefined || args.peer === undefined) fail('--network and --peer are required')
  const seconds = args.seconds === undefined ? undefined : Number(args.seconds)
  const every = Number(args.every)
  if (seconds !== undefined && !(seconds > 0)) fail('--seconds must be a positive number')
  if (!(every > 0)) fail('--every must be a positive number')
  let net: Network
  let peer: Multiaddr
  try {
    net = parseNetwork(await readFile(args.network, 'utf8'))
  } catch (err: any) {
    fail(`${args.network}: ${String(err?.message ?? err)}`)
  }
  try {
    peer = multiaddr(args.peer)
  } catch (err: any) {
    fail(`--peer: ${String(err?.message ?? err)}`)
  }
  const hubId = peer.getPeerId()
  if (hubId === null) fail('--peer must end in /p2p/<peer id> (see `ecandle status --json`: addrs)')
  const json = args.json === true
  const out = (o: object): void => { process.stdout.write(JSON.stringify(o) + '\n') }

  // ---- the few lines an app writes: a libp2p node whose gossipsub uses the network's settings ----
  const node = await createLibp2p({
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), pubsub: gossipsub(gossipsubConfig()) }
  })
  const live = new LiveEnergy(net)
  const certificate = (c: CertificateMessage, via: 'gossip' | 'sync'): void => {
    if (live.onCertificate(c, via) && json) out({ type: 'certificate', epoch: c.epoch, valueId: c.valueId, signers: c.signers.length, via })
  }
  const unsubscribe = subscribeNetwork(node, net, {
    onEntry: e => { live.onEntry(e) },
    onCertificate: c => { certificate(c, 'gossip') },
    onInvalid: err => { live.invalid++; live.invalidCodes[err.code] = (live.invalidCodes[err.code] ?? 0) + 1 }
  })
  // ---------------------------------------------------------------------------------------------

  const started = Date.now()
  const elapsed = (): number => Math.round((Date.now() - started) / 1000)
  let stopping = false
  // Keep one connection to the hub: dial at start, and again if it drops (hub restart, network blip).
  const connect = async (): Promise<void> => {
    if (stopping || node.getConnections().some(c => c.remotePeer.toString() === hubId)) return
    try {
      await node.dial(peer, { signal: AbortSignal.timeout(5000) })
      if (json) out({ type: 'connected', peer: args.peer, node: node.peerId.toString() })
      else process.stdout.write(`connected to ${args.peer} as ${node.peerId.toString()}\n`)
    } catch (err: any) {
      process.stderr.write(`live-energy: dial ${args.peer}: ${String(err?.message ?? err)} (retrying)\n`)
    }
  }
  // Certificates reach a light peer by gossip only from hubs that forward them, so also ask the hub
  // for the ones we lack over the sync protocol (each verified like a gossiped one).
  let fetching = false
  const catchUp = async (): Promise<void> => {
    if (stopping || fetching) return
    fetching = true
    try {
      for (const c of await fetchCertificates(node, peer, net, { from: live.nextCertificateEpoch(), limit: 16 }, { timeoutMs: 5000 })) certificate(c, 'sync')
    } catch (err: any) {
      if (!stopping) process.stderr.write(`live-energy: certificates from ${args.peer}: ${String(err?.message ?? err)}\n`)
    } finally {
      fetching = false
    }
  }
  await connect()
  void catchUp()
  const redial = setInterval(() => { void connect().then(catchUp) }, 2000)
  const ticker = setInterval(() => {
    if (json) out({ type: 'tick', seconds: elapsed(), communities: live.rows() })
    else process.stdout.write(`\n${live.table(elapsed(), hubId)}\n`)
  }, every * 1000)

  const stop = async (why: string): Promise<void> => {
    if (stopping) return
    stopping = true
    clearInterval(redial)
    clearInterval(ticker)
    unsubscribe()
    if (json) out(live.summary(elapsed(), args.peer!, node.peerId.toString()))
    else {
      process.stdout.write(`\n${live.table(elapsed(), hubId)}\n`)
      process.stdout.write(`stopped (${why}): ${unsubscribe.stats.entries} entries and ${live.certificates.size} certificates verified (${unsubscribe.stats.certificates} by gossip), ${unsubscribe.stats.invalid} invalid\n`)
    }
    // A clean stop closes every connection; do not hang on a stuck one.
    const deadline = setTimeout(() => { process.stderr.write('live-energy: node did not stop in 5 s\n'); process.exit(1) }, 5000)
    await node.stop()
    clearTimeout(deadline)
  }
  process.once('SIGINT', () => { void stop('SIGINT') })
  process.once('SIGTERM', () => { void stop('SIGTERM') })
  if (seconds !== undefined) setTimeout(() => { void stop(`${seconds} s`) }, seconds * 1000)
}

main().catch(err => {
  process.stderr.write(`live-energy: ${String(err?.stack ?? err)}\n`)
  process.exit(1)
})
