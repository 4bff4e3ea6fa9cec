import assert from 'node:assert/strict'
import { gossipsub } from '@chainsafe/libp2p-gossipsub'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { generateSeed, parseNetwork, peerIdFromPublicKey, signerFromSeed } from '@ecandle/protocol'
import {
  fetchCertificates, fetchEntries, fetchHeads, gossipsubConfig, HubApiError, HubClient, subscribeNetwork, ValidationError,
  type EntryEvent, type EntryMessage, type EpochSummary, type PeerInfo
} from '@ecandle/client'
import { printTailsOnFailure, Testnet, waitFor, type TestHub } from './lib/testnet.js'

/**
 * @ecandle/client against real hub processes: HubClient on every API route (typed answers, verified
 * certificates and reward proofs, the event stream, typed errors), and a libp2p node of the test
 * process that follows gossip and uses the sync protocols as an app would.
 */

const rejectsApi = async (p: Promise<unknown>, status: number, code: string): Promise<void> => {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof HubApiError, `expected HubApiError, got ${String(err)}`)
    assert.equal(err.status, status, err.message)
    assert.equal(err.code, code, err.message)
    assert.ok(err.serverMessage.length > 0)
    return true
  })
}

describe('@ecandle/client against a real 3-hub testnet', function () {
  let tn: Testnet
  let hub: TestHub
  let client: HubClient
  /** A decided epoch with counted energy, and a device counted in it. */
  let decided: { summary: EpochSummary, device: string }

  before(async function () {
    this.timeout(60_000)
    tn = await Testnet.create({ hubs: 3, devicesPerHub: 2, epochLengthS: 5, gracePeriodS: 2 })
    await tn.start()
    await waitFor('every hub connected to the 2 others', async () => (await tn.statuses()).every(s => s.peers >= 2), { timeoutMs: 20_000 })
    hub = tn.hubs[0]
    // As an app on the hub's machine would: api.json for the address, api.token for admin calls.
    client = await HubClient.fromDataDir(hub.dir, { network: tn.net })
    assert.equal(client.baseUrl, hub.url)
  })
  afterEach(function () { printTailsOnFailure(this, tn) })
  after(async function () {
    this.timeout(30_000)
    await tn?.destroy()
  })

  it('status, devices, log and report: typed answers about this hub and its log', async function () {
    this.timeout(30_000)
    const s = await client.status()
    assert.equal(s.peerId, hub.peerId)
    assert.equal(s.network, tn.net.id)
    assert.equal(s.validator, true)
    assert.ok(s.addrs.length > 0 && s.addrs.every(a => a.endsWith(`/p2p/${hub.peerId}`)), s.addrs.join(' '))
    await waitFor(`${hub.name}'s own log at seq ≥ 2`, async () => ((await client.status()).heads[hub.peerId]?.seq ?? 0) >= 2, { timeoutMs: 20_000 })

    const mine = tn.net.def.devices.filter(d => d.hub === hub.peerId).map(d => d.id).sort()
    const devices = await client.devices()
    assert.deepEqual(devices.map(d => d.device).sort(), mine)
    assert.ok(devices.every(d => d.link === 'emulator' && typeof d.connected === 'boolean' && typeof d.errors === 'number'))

    const entries = await client.log(hub.peerId, { from: 1, limit: 2 })
    assert.deepEqual(entries.map(e => e.seq), [1, 2])
    assert.equal(entries[0].prev, null)
    assert.equal(entries[1].prev, entries[0].id)
    assert.match(entries[0].id, /^bafyrei/)
    for (const e of entries) {
      assert.equal(e.hub, hub.peerId)
      assert.ok(e.reports.length > 0 && e.reports.every(r => mine.includes(r.device) && r.energyMwh >= 0 && /^[0-9a-f]{64}$/.test(r.id)))
    }
    const r = entries[0].reports[0]
    assert.deepEqual(await client.report(r.device, r.counter), { device: r.device, counter: r.counter, hub: hub.peerId, seq: 1, index: 0 })
  })

  it('epochs, epoch, verifiedEpoch, rewards and verifiedRewards once an epoch with energy is decided', async function () {
    this.timeout(60_000)
    const summary = await waitFor('a decided epoch with counted energy', async () => {
      const list = await client.epochs({ from: 0, limit: 100 })
      return list.find(x => BigInt(x.totals.countedMwh) > 0n)
    }, { timeoutMs: 45_000, intervalMs: 250 })
    assert.deepEqual(await client.epoch(summary.epoch), summary)
    const cert = await client.verifiedEpoch(summary.epoch)
    assert.equal(cert.valueId, summary.valueId)
    assert.equal(cert.root, summary.root)
    assert.ok(cert.signers.length >= 3, 'a quorum of 3 validators signed')

    // A device counted in that epoch, and its capex account's reward.
    let device: string | undefined
    let account: string | undefined
    for (const d of tn.net.def.devices) {
      const x = await client.explain(summary.epoch, d.id)
      if (x.row !== null) { device = d.id; account = x.row.capexAccount; break }
    }
    assert.ok(device !== undefined && account !== undefined, `a device with counted energy in epoch ${summary.epoch}`)
    decided = { summary, device }
    const rw = await client.rewards(account, { epoch: summary.epoch })
    assert.equal(rw.epoch, summary.epoch)
    assert.ok(rw.proof !== null)
    const v = await client.verifiedRewards(account, { epoch: summary.epoch })
    assert.equal(v.account, account)
    assert.equal(v.epoch, summary.epoch)
    assert.equal(v.root, summary.root)
    assert.equal(v.amount, BigInt(rw.epochAmount))
    assert.equal(v.cumulative, BigInt(rw.cumulative))
    assert.ok(v.amount > 0n && v.cumulative >= v.amount, `${String(v.amount)} earned, ${String(v.cumulative)} in all`)

    // The same answers checked against another network's validators: the certificate does not verify.
    const other = new HubClient(hub.url!, { network: parseNetwork({ ...tn.net.def, name: 'another network' }) })
    await assert.rejects(other.verifiedRewards(account, { epoch: summary.epoch }), (err: unknown) => err instanceof ValidationError && err.code === 'certificate-signature')
  })

  it('explain: every report of a device in that epoch, counted or why not', async function () {
    const { summary, device } = decided
    const x = await client.explain(summary.epoch, device)
    assert.equal(x.device, device)
    assert.ok(x.row !== null && BigInt(x.row.countedMwh) > 0n)
    assert.ok(x.reports.length > 0 && x.reports.every(r => r.device === device))
    assert.equal(x.byStatus.counted, x.reports.filter(r => r.status === 'counted').length)
    assert.match(x.text, new RegExp(`device ${device}, epoch ${summary.epoch}`))
  })

  it('events(): the stream yields a stored entry', async function () {
    this.timeout(30_000)
    let entry: EntryEvent | undefined
    for await (const ev of client.events({ signal: AbortSignal.timeout(20_000) })) {
      if (ev.type === 'entry') { entry = ev.data; break }
    }
    assert.ok(entry !== undefined, 'an entry event within 20 s')
    assert.ok(tn.net.hubs.has(entry.hub) && entry.seq >= 1 && entry.reports >= 1 && entry.reportIds.length === entry.reports)
  })

  it('evidence: none on an honest network', async function () {
    assert.deepEqual(await client.evidence(), [])
  })

  it('HubApiError with the server\'s status, code and message on 400 and 404', async function () {
    const device = tn.net.def.devices.find(d => d.hub === hub.peerId)!.id
    const stranger = peerIdFromPublicKey(signerFromSeed(generateSeed()).publicKey)
    await rejectsApi(client.log(stranger), 404, 'not-found')
    await rejectsApi(client.log('not-a-peer-id'), 400, 'bad-request')
    await rejectsApi(client.log(hub.peerId, { limit: 1000 }), 400, 'bad-request')
    await rejectsApi(client.epoch(1_000_000), 404, 'not-found')
    await rejectsApi(client.report('no-such-device', 1), 400, 'bad-request')
    await rejectsApi(client.report(device, 1_000_000_000), 404, 'not-found')
    await rejectsApi(client.explain(0, 'no-such-device'), 400, 'bad-request')
    await rejectsApi(client.rewards('not-an-account'), 400, 'bad-request')
  })

  it('partition(): 401 without the token; with it, an empty block list is accepted', async function () {
    await rejectsApi(new HubClient(hub.url!).partition([]), 401, 'unauthorized')
    assert.deepEqual(await client.partition([]), { blocked: [] })
  })

  it('peers(): the hub\'s connected peers (GET /peers)', async function () {
    let peers: PeerInfo[]
    try {
      peers = await client.peers()
    } catch (err) {
      // The route is being added to the daemon; until then there is nothing to check.
      if (err instanceof HubApiError && err.status === 404) this.skip()
      throw err
    }
    const others = tn.hubs.filter(h => h !== hub).map(h => h.peerId)
    for (const p of others) {
      const row = peers.find(x => x.peerId === p)
      assert.ok(row !== undefined, `peer ${p} listed`)
      assert.equal(row.validator, true)
      assert.ok(Array.isArray(row.addrs) && ['inbound', 'outbound'].includes(row.direction))
    }
  })

  it('metrics(): Prometheus text (GET /metrics)', async function () {
    let text: string
    try {
      text = await client.metrics()
    } catch (err) {
      if (err instanceof HubApiError && err.status === 404) this.skip()
      throw err
    }
    assert.match(text, /^# (HELP|TYPE) /m)
  })

  it('a libp2p node of our own: subscribeNetwork delivers verified entries; the sync protocols serve the same data', async function () {
    this.timeout(60_000)
    const node = await createLibp2p({
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify(), pubsub: gossipsub(gossipsubConfig()) }
    })
    try {
      const s = await client.status()
      const addr = multiaddr(s.addrs[0])
      const seen = new Set<string>()
      let firstOther: (e: EntryMessage) => void
      const got = new Promise<EntryMessage>(resolve => { firstOther = resolve })
      const stop = subscribeNetwork(node, tn.net, {
        onEntry: e => {
          seen.add(e.hub)
          // An entry of another hub: it reached us through the hub we dialled.
          if (e.hub !== hub.peerId) firstOther(e)
        }
      })
      await node.dial(addr)
      const e = await Promise.race([got, new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error(`no entry of another hub in 20 s (saw ${[...seen].join(',')})`)), 20_000))])
      stop()
      assert.equal(stop.stats.invalid, 0)

      // The same entry, fetched and verified over the entries protocol.
      assert.deepEqual(await fetchEntries(node, addr, tn.net, { hub: e.hub, from: e.seq, limit: 1 }), [e])
      // Every validator's log served by the heads protocol (a hub may append its first entry a little after the others).
      const heads = await waitFor('the heads protocol serving an entry of every validator', async () => {
        const hs = await fetchHeads(node, addr, tn.net)
        return tn.net.validatorIds.every(v => (hs.find(h => h.hub === v)?.seq ?? 0) >= 1) ? hs : undefined
      }, { timeoutMs: 20_000 })
      for (const v of tn.net.validatorIds) assert.ok((heads.find(h => h.hub === v)?.seq ?? 0) >= 1, `head of ${v}`)
      // Certificates from epoch 0, verified: the epochs the API lists.
      const certs = await fetchCertificates(node, addr, tn.net, { from: 0, limit: 64 })
      const api = await client.epochs({ from: 0, limit: 100 })
      assert.ok(certs.length >= 1)
      assert.deepEqual(certs.map(c => c.epoch), certs.map((_, i) => i), 'consecutive from 0')
      for (const c of certs) {
        const a = api.find(x => x.epoch === c.epoch)
        if (a !== undefined) assert.equal(c.valueId, a.valueId, `epoch ${c.epoch}`)
      }
    } finally {
      await node.stop()
    }
  })
})
