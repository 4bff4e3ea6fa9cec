import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeEvidence, verifyEvidence } from '@ecandle/protocol'
import { Bucket, keys, nameKey, Repository, SCHEMA_VERSION, Store, StoreError, u64, u64Key } from '../src/index.js'
import { entry, fixture } from '@ecandle/protocol/testing'

const hex = (bs: Uint8Array[]): string[] => bs.map(b => Buffer.from(b).toString('hex'))

describe('store', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'ecandle-store-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('appends entries in one batch and keeps heads, counters and the report index across restarts', async () => {
    const f = fixture()
    let s = await Store.open(dir, f.net.id)
    const e1 = entry(f, 0, 1, undefined, [1, 2])
    const e2 = entry(f, 0, 2, e1, [5, 3])
    await s.appendEntry(e1)
    await s.appendEntry(e2, { sync: true })
    assert.equal(s.head(f.hubIds[0])?.seq, 2)
    assert.equal(s.reportCount, 4)
    await s.close()

    s = await Store.open(dir, f.net.id)
    const head = s.head(f.hubIds[0])
    assert.equal(head?.seq, 2)
    assert.ok(head?.id.equals(e2.id))
    assert.equal(s.head(f.hubIds[1]), undefined)
    assert.equal(s.counterOf('h0-d0'), 5)
    assert.equal(s.counterOf('h0-d1'), 3)
    assert.equal(s.reportCount, 4)
    assert.deepEqual(await s.findReport('h0-d1', 2), { seq: 1, index: 1 })
    assert.deepEqual(await s.findReport('h0-d0', 5), { seq: 2, index: 0 })
    assert.equal(await s.findReport('h0-d0', 4), undefined)
    // Original signed bytes come back as they went in, in seq order.
    const got = await s.getEntries(f.hubIds[0], 1, 10)
    assert.deepEqual(hex(got), hex([e1.bytes, e2.bytes]))
    assert.deepEqual(hex(await s.getEntries(f.hubIds[0], 2, 10)), hex([e2.bytes]))
    assert.deepEqual(await s.getEntries(f.hubIds[1], 1, 10), [])
    await s.close()
  })

  it('refuses a database of another network with a clear error', async () => {
    const f = fixture()
    await (await Store.open(dir, f.net.id)).close()
    await assert.rejects(Store.open(dir, 'ffffffffffffffffffffffffffffffff'), (err: unknown) =>
      err instanceof StoreError && err.code === 'network' && err.message.includes(f.net.id))
  })

  it('migrates an older schema it has a migration for, in one batch with the new version; refuses any other', async () => {
    const f = fixture()
    let s = await Store.open(dir, f.net.id)
    await s.batchRaw([{ key: keys.meta('schema'), value: u64(SCHEMA_VERSION - 1) }])
    await s.close()
    const old = (err: unknown): boolean => err instanceof StoreError && err.code === 'schema' && err.message.includes(`schema version ${SCHEMA_VERSION - 1}`) && err.message.includes('cannot migrate')
    await assert.rejects(Store.open(dir, f.net.id), old)
    await assert.rejects(Store.open(dir, f.net.id, { migrations: [{ from: SCHEMA_VERSION - 2, name: 'older', run: async () => [] }] }), old)
    s = await Store.open(dir, f.net.id, { migrations: [{ from: SCHEMA_VERSION - 1, name: 'mark', run: async () => [{ key: keys.consensus('mark'), value: Uint8Array.of(7) }] }] })
    assert.deepEqual([...(await s.getRaw(keys.consensus('mark')))!], [7])
    assert.deepEqual([...(await s.getRaw(keys.meta('schema')))!], [...u64(SCHEMA_VERSION)])
    await s.batchRaw([{ key: keys.meta('schema'), value: u64(SCHEMA_VERSION + 1) }])
    await s.close()
    await assert.rejects(Store.open(dir, f.net.id), (err: unknown) => err instanceof StoreError && err.code === 'schema' && err.message.includes('newer build'))
  })

  it('a typed repository keeps one bucket: keys and values through their codecs, in key order', async () => {
    const f = fixture()
    const s = await Store.open(dir, f.net.id)
    const json = { encode: (v: object) => new TextEncoder().encode(JSON.stringify(v)), decode: (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b)) }
    const byEpoch = new Repository<number, object>(s, Bucket.epochRecord, u64Key, json)
    const byName = new Repository<string, object>(s, Bucket.consensus, nameKey, json)
    await s.batchRaw([byEpoch.putOp(300, { e: 300 }), byEpoch.putOp(2, { e: 2 }), byName.putOp('state', { s: 1 })], { sync: true })
    assert.deepEqual(await byEpoch.get(2), { e: 2 })
    assert.deepEqual(await byEpoch.last(), [300, { e: 300 }], 'numeric order, not text order')
    assert.deepEqual(await byName.last(), ['state', { s: 1 }], 'buckets do not mix')
    const bytes: string[] = []
    for await (const b of byEpoch.bytesFrom(3, 10)) bytes.push(new TextDecoder().decode(b))
    assert.deepEqual(bytes, ['{"e":300}'])
    await s.putRaw(keys.epochRecord(5), Uint8Array.of(0xff))
    await assert.rejects(byEpoch.get(5), (err: unknown) => err instanceof StoreError && err.code === 'corrupt')
    await s.close()
  })

  it('keeps evidence once', async () => {
    const f = fixture()
    const s = await Store.open(dir, f.net.id)
    const a = entry(f, 1, 1, undefined, [1])
    const b = entry(f, 1, 1, undefined, [2])
    const ev = verifyEvidence(f.net, encodeEvidence('entry', a.bytes, b.bytes))
    assert.equal(await s.putEvidence(ev), true)
    assert.equal(await s.putEvidence(ev), false)
    assert.deepEqual((await s.listEvidence()).map(b => Buffer.from(b).toString('hex')), [Buffer.from(ev.bytes).toString('hex')])
    await s.close()
  })
})
