import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID, genesisValidators, valueIdOf, type EpochValue } from '@ecandle/protocol'
import { entry, fixture } from '@ecandle/protocol/testing'
import { keys, Store, StoreError, u64, SCHEMA_VERSION } from '@ecandle/store'
import { AgreementDb, agreementMigrations, decodeEpochRecord, encodeEpochRecord, type ConsensusState, type EpochRecord } from '../src/db/index.js'

describe('agreement repositories (DAG-CBOR, schema 2) and the schema 1 migration', () => {
  const f = fixture()
  const e1 = entry(f, 0, 1, undefined, [1, 2])
  const value: EpochValue = { epoch: 4, prev: 'ab'.repeat(32), cut: [{ hub: f.hubIds[0], seq: 1, id: e1.id }, { hub: f.hubIds[1], seq: 0, id: null }], root: 'cd'.repeat(32), gov: ['ef'.repeat(32)], state: '01'.repeat(32), next: '02'.repeat(32) }
  const huge = 2n ** 80n + 7n // past 64 bits: CBOR integers could not hold it
  const record: EpochRecord = {
    epoch: 4,
    valueId: valueIdOf(value),
    value,
    totals: { countedMwh: 20n, emission: 1000n, prevDust: 1n, distributable: 1001n, paid: 1000n, dust: 1n },
    devices: [{ device: 'h0-d0', countedMwh: 10n, reward: 500n, capex: 250n, opex: 250n, capexAccount: 'aa', opexAccount: 'bb' }],
    accounts: [{ account: 'aa', epochAmount: 250n, cumulative: huge }, { account: 'bb', epochAmount: 0n, cumulative: 3n }],
    next: { epoch: 4, dust: 1n, cumulative: new Map([['bb', 3n], ['aa', huge]]) }
  }
  const state: ConsensusState = {
    epoch: 4, round: 2, step: 'precommit',
    lockedValue: { id: valueIdOf(value), value }, lockedRound: 1, validValue: null, validRound: -1,
    sent: [
      { type: 'proposal', epoch: 4, round: 1, from: f.hubIds[0], valueId: valueIdOf(value), value, validRound: -1 },
      { type: 'prevote', epoch: 4, round: 1, from: f.hubIds[0], valueId: valueIdOf(value) },
      { type: 'precommit', epoch: 4, round: 2, from: f.hubIds[0], valueId: null }
    ]
  }
  const dirs: string[] = []
  const tmp = async (): Promise<string> => { const d = await mkdtemp(join(tmpdir(), 'ecandle-db-')); dirs.push(d); return d }
  after(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }) })

  it('epoch records round-trip with bigints of any size as decimal strings', () => {
    const bytes = encodeEpochRecord(record)
    const back = decodeEpochRecord(bytes)
    assert.deepEqual(back, record)
    assert.ok(Buffer.from(bytes).includes(Buffer.from(huge.toString())), 'amounts are stored as decimal strings')
    assert.throws(() => decodeEpochRecord(encodeEpochRecord({ ...record, totals: { ...record.totals, paid: -1n } })), /decimal string/)
  })

  it('each bucket has its repository; a decision is one batch; a corrupt value is a clear StoreError', async () => {
    const dir = await tmp()
    const store = await Store.open(dir, f.net.id)
    const db = new AgreementDb(store, f.net, genesisValidators(f.net))
    assert.equal(await db.records.last(), undefined)
    await db.state.save(state)
    assert.deepEqual(await db.state.load(), state)
    await db.records.put(4, record)
    assert.deepEqual(await db.records.get(4), record)
    assert.deepEqual((await db.records.last())?.[0], 4)
    await store.putRaw(keys.epochRecord(5), Uint8Array.of(1, 2, 3))
    await assert.rejects(db.records.get(5), (err: unknown) => err instanceof StoreError && err.code === 'corrupt' && /0x12 key 5/.test(err.message))
    await store.close()
  })

  it('opens a schema 1 database by migrating its JSON records; without the migration it is refused clearly', async () => {
    const dir = await tmp()
    // A schema 1 database as the previous build wrote it: JSON with $big/$map tags, CIDs as { "/": … }.
    const toJsonV1 = (x: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(x, (_k, v) => typeof v === 'bigint'
      ? { $big: v.toString() }
      : v instanceof Map ? { $map: [...v] } : v instanceof CID ? { '/': v.toString() } : v))
    let store = await Store.open(dir, f.net.id)
    await store.batchRaw([
      { key: keys.meta('schema'), value: u64(1) },
      { key: keys.epochRecord(4), value: toJsonV1(record) },
      { key: keys.consensus('state'), value: toJsonV1(state) }
    ])
    await store.close()
    await assert.rejects(Store.open(dir, f.net.id), (err: unknown) => err instanceof StoreError && err.code === 'schema' &&
      err.message.includes('schema version 1') && err.message.includes(`reads version ${SCHEMA_VERSION}`) && err.message.includes('cannot migrate'))
    const ran: string[] = []
    store = await Store.open(dir, f.net.id, { migrations: agreementMigrations(), onMigrate: (m) => { ran.push(`${m.from}: ${m.name}`) } })
    assert.deepEqual(ran, ['1: epoch records and consensus state: JSON to DAG-CBOR', '2: governance buckets (resolutions of decided epochs, the pool): new and empty'])
    const db = new AgreementDb(store, f.net, genesisValidators(f.net))
    assert.deepEqual(await db.records.get(4), record)
    assert.deepEqual(await db.state.load(), state)
    assert.equal((await store.getRaw(keys.meta('schema')))?.at(-1), SCHEMA_VERSION)
    await store.close()
    store = await Store.open(dir, f.net.id)
    await store.close()
  })

  it('a migration that cannot read a record stops, naming it, and leaves the database as it was', async () => {
    const dir = await tmp()
    let store = await Store.open(dir, f.net.id)
    await store.batchRaw([{ key: keys.meta('schema'), value: u64(1) }, { key: keys.epochRecord(4), value: new TextEncoder().encode('{"epoch": "four"}') }])
    await store.close()
    await assert.rejects(Store.open(dir, f.net.id, { migrations: agreementMigrations() }), (err: unknown) => err instanceof StoreError && /migration from schema 1/.test(err.message))
    store = await Store.open(dir, f.net.id, { migrations: [{ from: 1, name: 'nothing to change', run: async () => [] }, { from: 2, name: 'nothing', run: async () => [] }] })
    assert.equal(await store.getRaw(keys.epochRecord(4)) !== undefined, true, 'the record is untouched')
    await store.close()
  })
})
