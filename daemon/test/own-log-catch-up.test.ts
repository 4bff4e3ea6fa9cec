import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseNetwork } from '@ecandle/protocol'
import { entry, fixture, type Fixture } from '@ecandle/protocol/testing'
import { Store } from '@ecandle/store'
import { Ingest } from '@ecandle/sync'
import { OwnLogCatchUp, type OwnLogPeers } from '../src/own-log-catch-up.js'

const quiet = { info: () => {}, warn: () => {}, debug: () => {} }

/** The catch-up's decisions against a real store; the peers are a stand-in for sync (pure logic). */
describe('own log catch-up (a hub never re-signs a seq)', () => {
  let dir: string
  let store: Store
  let f: Fixture
  let ingest: Ingest

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ecandle-catchup-'))
    f = fixture()
    store = await Store.open(dir, f.net.id)
    ingest = new Ingest(f.net, store, quiet, {}, () => Number.MAX_SAFE_INTEGER)
  })
  afterEach(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('is ready at once in a network with no other validator', () => {
    const def = { ...JSON.parse(JSON.stringify(f.net.def)), validators: [f.net.def.validators[0]], devices: f.net.def.devices.filter(d => d.hub === f.hubIds[0]) }
    const alone = parseNetwork(def)
    const c = new OwnLogCatchUp(() => alone.validatorIds, f.hubIds[0], store, { validatorHeads: async () => { throw new Error('nobody to ask') }, syncWith: async () => {} }, quiet)
    assert.equal(c.ready, true)
  })

  it('asks the validators governance decided: once none but itself is left, it is ready', async () => {
    let validators = f.net.validatorIds
    const c = new OwnLogCatchUp(() => validators, f.hubIds[0], store, { validatorHeads: async () => [], syncWith: async () => {} }, quiet)
    c.poke()
    await c.settled()
    assert.equal(c.ready, false, 'others to ask, none answered')
    validators = [f.hubIds[0]]
    assert.equal(await c.whenReady(10_000), true)
  })

  it('waits for a validator to answer, fetches what it holds of our log, then is ready', async () => {
    const e1 = entry(f, 0, 1, undefined, [1, 2])
    const e2 = entry(f, 0, 2, e1, [3, 4])
    let answers: Array<{ peer: string, seq: number }> = []
    const fetched: string[] = []
    const peers: OwnLogPeers = {
      validatorHeads: async () => answers,
      // The peer serves our two entries (as sync would, through ingest).
      syncWith: async (peer) => { fetched.push(peer); for (const e of [e1, e2]) await ingest.accept(e.bytes, peer).catch(() => {}) }
    }
    const c = new OwnLogCatchUp(() => f.net.validatorIds, f.hubIds[0], store, peers, quiet, () => 1234)
    assert.equal(c.ready, false)
    c.poke()
    await c.settled()
    assert.equal(c.ready, false, 'no validator answered: not ready')
    answers = [{ peer: f.hubIds[1], seq: 2 }]
    c.poke()
    await c.settled()
    assert.deepEqual(fetched, [f.hubIds[1]])
    assert.equal(store.head(f.hubIds[0])?.seq, 2)
    assert.equal(c.ready, true)
    // The database was behind: the agreement abstains in epochs whose vote began before now.
    assert.equal(c.behind, true)
    assert.equal(c.readyAt, 1234)
  })

  it('whenReady: a report waits for the catch-up (true), or only so long (false)', async () => {
    let answers: Array<{ peer: string, seq: number }> = []
    const c = new OwnLogCatchUp(() => f.net.validatorIds, f.hubIds[0], store, { validatorHeads: async () => answers, syncWith: async () => {} }, quiet)
    assert.equal(await c.whenReady(50), false, 'nobody answered within 50 ms')
    answers = [{ peer: f.hubIds[1], seq: 0 }]
    assert.equal(await c.whenReady(10_000), true)
  })

  it('stays not ready while the network holds more of our log than it could fetch', async () => {
    const peers: OwnLogPeers = { validatorHeads: async () => [{ peer: f.hubIds[1], seq: 5 }], syncWith: async () => {} }
    const c = new OwnLogCatchUp(() => f.net.validatorIds, f.hubIds[0], store, peers, quiet)
    c.poke()
    await c.settled()
    assert.equal(c.ready, false)
  })

  it('is ready when the validators hold none of our log (a new network)', async () => {
    const c = new OwnLogCatchUp(() => f.net.validatorIds, f.hubIds[0], store, { validatorHeads: async () => [{ peer: f.hubIds[1], seq: 0 }], syncWith: async () => { throw new Error('not needed') } }, quiet)
    c.poke()
    await c.settled()
    assert.equal(c.ready, true)
    assert.equal(c.behind, false, 'nothing was missing: the database is not behind')
  })
})
