import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHubNode, type HubNode } from '@ecandle/net'
import { entry, fixture } from '@ecandle/protocol/testing'
import { Store } from '@ecandle/store'
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

  async function peer (n: number, f = fixture()): Promise<{ node: HubNode, store: Store, ingest: Ingest, sync: SyncService }> {
    const dir = await mkdtemp(join(tmpdir(), 'ecandle-sync-'))
    dirs.push(dir)
    const store = await Store.open(dir, f.net.id)
    stores.push(store)
    const node = await createHubNode({ seed: new Uint8Array(32).fill(100 + n), networkId: f.net.id, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [] })
    nodes.push(node)
    await node.start()
    const ingest = new Ingest(f.net, store, quiet, {}, () => Number.MAX_SAFE_INTEGER)
    const sync = new SyncService({ node, net: f.net, store, ingest, logger: quiet }, { intervalMs: 60_000, requestTimeoutMs: 5000, concurrency: 2 })
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
})
