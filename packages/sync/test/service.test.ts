import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHubNode, type HubNode } from '@ecandle/net'
import { genesisLookup, peerIdFromPublicKey, signerFromSeed, type EntryLookup } from '@ecandle/protocol'
import { entry, fixture } from '@ecandle/protocol/testing'
import { Store } from '@ecandle/store'
import { headsProtocol, serve } from '@ecandle/wire'
import { Ingest, SyncService } from '../src/index.js'

const quiet = { info: () => {}, warn: () => {}, debug: () => {} }

describe('sync service (two real libp2p nodes, real LevelDB)', () => {
  const dirs: string[] = []
  const nodes: HubNode[] = []
  const stores: Store[] = []
  after(async () => {
    for (const n of nodes) await n.stop()
    for (const s of stores) await s.close()
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  })

  async function peer (n: number, f = fixture(), intervalMs = 60_000, o: { lookup?: EntryLookup, isHub?: (h: string) => boolean } = {}): Promise<{ node: HubNode, store: Store, ingest: Ingest, sync: SyncService }> {
    const dir = await mkdtemp(join(tmpdir(), 'ecandle-sync-'))
    dirs.push(dir)
    const store = await Store.open(dir, f.net.id)
    stores.push(store)
    const node = await createHubNode({ seed: new Uint8Array(32).fill(100 + n), networkId: f.net.id, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [] })
    nodes.push(node)
    await node.start()
    const ingest = new Ingest(f.net, store, quiet, {}, () => Number.MAX_SAFE_INTEGER, o.lookup === undefined ? undefined : () => o.lookup!)
    const sync = new SyncService({ node, net: f.net, store, ingest, logger: quiet, isHub: o.isHub }, { intervalMs, requestTimeoutMs: intervalMs < 60_000 ? 500 : 5000, concurrency: 2 })
    await sync.start()
    return { node, store, ingest, sync }
  }

  it('fetches every entry a peer has that we lack, in pages, and converges to the same heads', async () => {
    const f = fixture()
    const a = await peer(1, f)
    const b = await peer(2, f)
    // 150 entries on hub 0 and 3 on hub 1: more than two pages of 64.
    let prev
    for (let seq = 1; seq <= 150; seq++) {
      prev = entry(f, 0, seq, prev, [seq])
      await a.ingest.accept(prev.bytes, 'local')
    }
    let p1
    for (let seq = 1; seq <= 3; seq++) {
      p1 = entry(f, 1, seq, p1, [seq])
      await a.ingest.accept(p1.bytes, 'local')
    }
    await b.node.dial(a.node.getMultiaddrs()[0])
    const fetched = await b.sync.syncWith(a.node.peerId.toString())
    assert.equal(fetched, 153)
    for (const hub of f.hubIds) assert.ok(b.store.head(hub)?.id.equals(a.store.head(hub)!.id))
    assert.equal(b.store.reportCount, a.store.reportCount)
    assert.equal(await b.sync.syncWith(a.node.peerId.toString()), 0, 'nothing left to fetch')
  })

  it('fetches the log of a hub governance added (not in the network file) when told it is a hub, and no other', async () => {
    const f = fixture()
    const g = genesisLookup(f.net)
    const added = signerFromSeed(new Uint8Array(32).fill(0x55))
    const addedId = peerIdFromPublicKey(added.publicKey)
    // The added hub took over hub 0's devices (as a device-move would).
    const lookup: EntryLookup = { hubKey: (h, e) => h === addedId ? added.publicKey : g.hubKey(h, e), device: (d, h, e) => g.device(d, h === addedId ? f.hubIds[0] : h, e) }
    const a = await peer(6, f, 60_000, { lookup })
    let prev
    for (let seq = 1; seq <= 3; seq++) {
      prev = entry({ ...f, hubs: [added, f.hubs[1]], hubIds: [addedId, f.hubIds[1]] }, 0, seq, prev, [seq], lookup)
      await a.ingest.accept(prev.bytes, 'local')
    }
    const file = await peer(7, f, 60_000, { lookup })
    const gov = await peer(8, f, 60_000, { lookup, isHub: (h) => h === addedId || f.net.hubs.has(h) })
    for (const b of [file, gov]) await b.node.dial(a.node.getMultiaddrs()[0])
    assert.equal(await file.sync.syncWith(a.node.peerId.toString()), 0, 'the network file alone does not name it')
    assert.equal(await gov.sync.syncWith(a.node.peerId.toString()), 3)
    assert.equal(gov.store.head(addedId)?.seq, 3)
  })

  it('stop() aborts the exchanges in flight and resolves once they have ended', async () => {
    const f = fixture()
    const b = await peer(4, f)
    // A peer that takes a heads request and never answers.
    const dir = await mkdtemp(join(tmpdir(), 'ecandle-sync-'))
    dirs.push(dir)
    const slow = await createHubNode({ seed: new Uint8Array(32).fill(105), networkId: f.net.id, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [] })
    nodes.push(slow)
    await slow.start()
    let asked = 0
    await serve(slow, headsProtocol.name(f.net.id), async function * (_req, _peer, signal) {
      asked++
      await new Promise(resolve => signal.addEventListener('abort', resolve, { once: true }))
      yield new Uint8Array(0)
    }, { maxRequestBytes: 1024, maxResponseBytes: 1024, timeoutMs: 60_000, maxInboundStreams: 4 }, quiet)
    await b.node.dial(slow.getMultiaddrs()[0])
    const inFlight = b.sync.syncWith(slow.peerId.toString())
    const settled = inFlight.then(() => 'resolved', () => 'rejected')
    while (asked === 0) await new Promise(resolve => setTimeout(resolve, 10))
    const t0 = Date.now()
    await b.sync.stop()
    assert.ok(Date.now() - t0 < 2000, `stop took ${Date.now() - t0} ms`)
    assert.equal(await Promise.race([settled, 'still running']), 'rejected', 'the exchange had ended when stop resolved')
    await assert.rejects(b.sync.syncWith(slow.peerId.toString()), /stopped/)
  })

  it('anti-entropy reaches a peer with entries past peers that never answer', async function () {
    this.timeout(30_000)
    const f = fixture()
    // Four peers that take the heads request and never answer, connected before the one that would
    // and ordered before it (the first ones any round would ask).
    const silent: HubNode[] = []
    for (let i = 0; i < 4; i++) {
      const n = await createHubNode({ seed: new Uint8Array(32).fill(40 + i), networkId: f.net.id, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [] })
      nodes.push(n)
      await n.start()
      await n.handle(headsProtocol.name(f.net.id), () => {})
      silent.push(n)
    }
    const last = silent.map(n => n.peerId.toString()).sort()[3]
    let k = 50
    while (peerIdFromPublicKey(signerFromSeed(new Uint8Array(32).fill(100 + k)).publicKey) <= last) k++
    const a = await peer(k, f)
    let prev
    for (let seq = 1; seq <= 5; seq++) {
      prev = entry(f, 0, seq, prev, [seq])
      await a.ingest.accept(prev.bytes, 'local')
    }
    const b = await peer(k + 1, f, 300)
    for (const n of silent) await b.node.dial(n.getMultiaddrs()[0])
    await b.node.dial(a.node.getMultiaddrs()[0])
    const t0 = Date.now()
    while (b.store.head(f.hubIds[0])?.seq !== 5) {
      if (Date.now() - t0 > 15_000) throw new Error(`not synced after 15 s: ${JSON.stringify(b.sync.counts)}`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    assert.ok(b.sync.counts.errors >= 1, 'the silent peers were asked and failed')
  })
})
