import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { epochVoteAtMs, genesisValidators, peerIdFromPublicKey, signerFromSeed, type VerifiedEntry } from '@ecandle/protocol'
import { entry, fixture } from '@ecandle/protocol/testing'
import { Store } from '@ecandle/store'
import { Ingest } from '@ecandle/sync'
import { Agreement } from '../../src/agreement/agreement.js'
import { AgreementDb } from '../../src/db/index.js'
import { FakeClock, FakeNetwork, quietLogger, realPause, runUntil } from './fakes.js'

const quiet = { info: () => {}, warn: () => {}, debug: () => {} }

interface Node { id: string, store: Store, ingest: Ingest, db: AgreementDb, agreement: Agreement, synced: string[] }

describe('agreement: the whole component over a fake network and a fake clock (2 validators, real LevelDB)', function () {
  this.timeout(60_000)
  const f = fixture() // 60 s epochs; entries 1..19 are stamped in epoch 1
  const chain = (h: number, n: number): VerifiedEntry[] => {
    const out: VerifiedEntry[] = []
    for (let s = 1; s <= n; s++) out.push(entry(f, h, s, out[s - 2], [2 * s, 2 * s + 1]))
    return out
  }
  const logs = [chain(0, 6), chain(1, 4)]
  const dirs: string[] = []
  const nodes: Node[] = []
  afterEach(async () => {
    for (const n of nodes.splice(0)) { await n.agreement.stop(); await n.store.close() }
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
  })

  async function node (net: FakeNetwork, clock: FakeClock, i: number, hold: (h: number) => number, o: { sync?: boolean } = {}): Promise<Node> {
    const dir = await mkdtemp(join(tmpdir(), 'ecandle-agree-'))
    dirs.push(dir)
    const store = await Store.open(dir, f.net.id)
    const signer = i < 2 ? f.hubs[i] : signerFromSeed(new Uint8Array(32).fill(77))
    const id = peerIdFromPublicKey(signer.publicKey)
    const n: Partial<Node> = { id, store, synced: [] }
    // Ingest's clock is not under test here: fixture entries are stamped in epoch 1, votes start at epoch 0.
    const ingest = new Ingest(f.net, store, quiet, { onEntry: (e) => { n.agreement?.onEntry(e.payload.hub) } }, () => Number.MAX_SAFE_INTEGER)
    for (let h = 0; h < 2; h++) for (const e of logs[h].slice(0, hold(h))) await ingest.accept(e.bytes, 'local')
    const db = new AgreementDb(store, f.net, genesisValidators(f.net))
    const agreement = new Agreement({
      net: f.net, self: id, signer, logs: store, db, gossip: net.gossip(id),
      // Sync, faked: the entries it lacks come from the full logs, through ingest (which wakes the agreement).
      sync: {
        requestSync: (peer) => {
          n.synced!.push(peer)
          if (o.sync === false) return
          setImmediate(() => {
            void (async () => { for (const log of logs) for (const e of log) await ingest.accept(e.bytes, peer).catch(() => {}) })()
          })
        }
      },
      peers: {
        peers: () => nodes.filter(x => x.id !== id).map(x => x.id),
        page: async (peer, from) => {
          const out: Uint8Array[] = []
          for await (const b of nodes.find(x => x.id === peer)!.db.certificates.bytesFrom(from, 64)) out.push(b)
          return out
        }
      },
      addEvidence: async (b) => await ingest.addEvidence(b),
      logger: quietLogger,
      clock
    })
    Object.assign(n, { ingest, db, agreement })
    nodes.push(n as Node)
    await agreement.start()
    return n as Node
  }

  const decided = (ns: Node[], e: number): boolean => ns.every(n => (n.agreement.lastDecided?.epoch ?? -1) >= e)
  /** Jumps to the vote of `epoch`, then runs in small steps until every node decided it. */
  async function vote (clock: FakeClock, ns: Node[], epoch: number): Promise<boolean> {
    const at = epochVoteAtMs(f.net, epoch)
    if (clock.now() < at) clock.advance(at - clock.now())
    return await runUntil(clock, () => decided(ns, epoch), { stepMs: 20, maxMs: 30_000 })
  }
  const certs = async (n: Node, upTo: number): Promise<string[]> => {
    const out: string[] = []
    for (let e = 0; e <= upTo; e++) out.push(Buffer.from((await n.db.certificates.get(e))!.bytes).toString('hex'))
    return out
  }

  it('decides epoch after epoch in round 0: byte-identical certificates, equal records', async () => {
    const clock = new FakeClock(epochVoteAtMs(f.net, 0) - 1000)
    const net = new FakeNetwork()
    const [a, b] = [await node(net, clock, 0, () => 99), await node(net, clock, 1, () => 99)]
    assert.ok(await vote(clock, [a, b], 0), 'epoch 0 decided')
    assert.ok(await vote(clock, [a, b], 1), 'epoch 1 decided')
    assert.deepEqual(await certs(a, 1), await certs(b, 1))
    assert.deepEqual(await a.db.records.get(1), await b.db.records.get(1))
    const rec = (await a.db.records.get(1))!
    assert.deepEqual(rec.value.cut.map(c => c.seq), [6, 4])
    assert.equal(rec.totals.countedMwh, BigInt((6 + 4) * 2 * 10))
    assert.deepEqual([(await a.db.certificates.get(1))!.round, a.agreement.counts.invalid, b.agreement.counts.invalid], [0, 0, 0])
  })

  it('a validator missing entries of the proposed cut asks sync and is woken by the ingest path (no polling)', async () => {
    const clock = new FakeClock(epochVoteAtMs(f.net, 0) - 1000)
    const net = new FakeNetwork()
    const a = await node(net, clock, 0, () => 99)
    const b = await node(net, clock, 1, (h) => h === 0 ? 2 : 99)
    // Epoch 1's proposer is validators[(1 + 0) % 2] = b: it proposes what it holds (hub 0 up to #2).
    assert.ok(await vote(clock, [a, b], 0))
    assert.ok(await vote(clock, [a, b], 1))
    assert.deepEqual((await b.db.records.get(1))!.value.cut.map(c => c.seq), [2, 4])
    assert.equal(b.synced.length, 0, 'b needed nothing it lacked')
    // Epoch 2's proposer is a, with hub 0 up to #6: b asks sync, and the entries' arrival wakes it.
    assert.ok(await vote(clock, [a, b], 2))
    assert.deepEqual((await b.db.records.get(2))!.value.cut.map(c => c.seq), [6, 4])
    assert.ok(b.synced.includes(a.id), 'b asked the proposer first')
    assert.equal(b.agreement.counts.invalid, 0, 'b never judged the value invalid: it waited for the entries')
    assert.equal((await b.db.certificates.get(2))!.round, 0)
    assert.deepEqual(await certs(a, 2), await certs(b, 2))
  })

  it('decides nothing while the two are cut off, and the same epoch once healed', async () => {
    const clock = new FakeClock(epochVoteAtMs(f.net, 0) - 1000)
    const net = new FakeNetwork()
    const [a, b] = [await node(net, clock, 0, () => 99), await node(net, clock, 1, () => 99)]
    net.partition([a.id], [b.id])
    clock.advance(epochVoteAtMs(f.net, 0) - clock.now())
    assert.equal(await runUntil(clock, () => decided([a, b], 0), { stepMs: 20, maxMs: 8000 }), false, 'no quorum: no decision')
    assert.ok(a.agreement.runningEpoch === 0 && b.agreement.runningEpoch === 0)
    net.partition()
    assert.ok(await runUntil(clock, () => decided([a, b], 0), { stepMs: 20, maxMs: 30_000 }), 'healed: decided (messages are sent again)')
    assert.deepEqual(await certs(a, 0), await certs(b, 0))
  })

  it('a follower that comes late catches up on certificates from its peers', async () => {
    const clock = new FakeClock(epochVoteAtMs(f.net, 0) - 1000)
    const net = new FakeNetwork()
    const [a, b] = [await node(net, clock, 0, () => 99), await node(net, clock, 1, () => 99)]
    for (let e = 0; e <= 2; e++) assert.ok(await vote(clock, [a, b], e))
    clock.advance(epochVoteAtMs(f.net, 4) - clock.now() - 1000) // far behind for a node at epoch 0
    const c = await node(net, clock, 2, () => 99)
    assert.equal(c.agreement.isValidator, false)
    assert.ok(await runUntil(clock, () => decided([c], 2), { stepMs: 20, maxMs: 5000 }), 'caught up to epoch 2')
    assert.deepEqual(await certs(c, 2), await certs(a, 2))
    assert.deepEqual(await c.db.records.get(2), await a.db.records.get(2))
    assert.ok(c.agreement.counts.adopted >= 3)
  })

  it('stop() ends a wait for entries at once and leaves no timer behind', async () => {
    const clock = new FakeClock(epochVoteAtMs(f.net, 0) - 1000)
    const net = new FakeNetwork()
    const a = await node(net, clock, 0, () => 99)
    const b = await node(net, clock, 1, (h) => h === 0 ? 0 : 99, { sync: false })
    // Epochs 0 and 1 need nothing b lacks (b proposes epoch 1); epoch 2's cut (a's) names entries b cannot get.
    assert.ok(await vote(clock, [a, b], 0))
    assert.ok(await vote(clock, [a, b], 1))
    clock.advance(epochVoteAtMs(f.net, 2) - clock.now())
    assert.ok(await runUntil(clock, () => b.synced.length > 0, { stepMs: 20, maxMs: 10_000 }), 'b asked sync for the entries')
    const t0 = Date.now()
    await b.agreement.stop()
    await a.agreement.stop()
    assert.ok(Date.now() - t0 < 2000, 'stopped promptly')
    assert.equal(clock.pending, 0, 'no timer left')
    await realPause()
  })
})
