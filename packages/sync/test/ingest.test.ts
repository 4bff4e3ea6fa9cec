import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { epochOf, genesisLookup, genesisValidators, signEntry, signerFromSeed, signReport, ValidationError, type EntryLookup } from '@ecandle/protocol'
import { entry, fixture, GENESIS, type Fixture } from '@ecandle/protocol/testing'
import { Store } from '@ecandle/store'
import { Ingest } from '../src/index.js'

const quiet = { info: () => {}, warn: () => {}, debug: () => {} }
const NOW = Number.MAX_SAFE_INTEGER

function rule (action: 'REJECT' | 'IGNORE', code: string) {
  return (err: unknown): boolean => err instanceof ValidationError && err.action === action && err.code === code
}

describe('ingest', () => {
  let dir: string
  let store: Store
  let f: Fixture
  let gaps: Array<[string, number, string]>
  let evidence: string[]
  let ingest: Ingest

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ecandle-ingest-'))
    f = fixture()
    store = await Store.open(dir, f.net.id)
    gaps = []
    evidence = []
    ingest = new Ingest(f.net, store, quiet, { onGap: (h, s, p) => gaps.push([h, s, p]), onEvidence: ev => evidence.push(ev.kind) }, () => NOW)
  })
  afterEach(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('answers a replay of a held entry from the store, before checking any signature', async () => {
    const e1 = entry(f, 0, 1, undefined, [1, 2])
    await ingest.accept(e1.bytes, 'p')
    // A clock at 0 would IGNORE the entry as from the future if its checks ran at all.
    const early = new Ingest(f.net, store, quiet, {}, () => 0)
    await assert.rejects(early.accept(e1.bytes, 'p'), rule('IGNORE', 'duplicate'))
    await assert.rejects(early.accept(entry(f, 0, 2, e1, [3]).bytes, 'p'), rule('IGNORE', 'future'))
  })

  it('appends in order and ignores duplicates', async () => {
    const e1 = entry(f, 0, 1, undefined, [1, 2])
    assert.equal(await ingest.accept(e1.bytes, 'p'), 'appended')
    await assert.rejects(ingest.accept(e1.bytes, 'p'), rule('IGNORE', 'duplicate'))
    assert.equal(store.head(f.hubIds[0])?.seq, 1)
  })

  it('queues an entry that arrives before its predecessor, asks for sync, and appends it once the gap fills', async () => {
    const e1 = entry(f, 0, 1, undefined, [1])
    const e2 = entry(f, 0, 2, e1, [2])
    const e3 = entry(f, 0, 3, e2, [3])
    await ingest.accept(e1.bytes, 'p')
    await assert.rejects(ingest.accept(e3.bytes, 'peer-x'), rule('IGNORE', 'gap'))
    assert.deepEqual(gaps, [[f.hubIds[0], 2, 'peer-x']])
    assert.equal(store.head(f.hubIds[0])?.seq, 1)
    await ingest.accept(e2.bytes, 'p')
    assert.equal(store.head(f.hubIds[0])?.seq, 3, 'the queued entry 3 was appended after 2')
    assert.equal(store.reportCount, 3)
  })

  it('keeps two different entries for one (hub, seq) as evidence', async () => {
    const a = entry(f, 1, 1, undefined, [1])
    const b = entry(f, 1, 1, undefined, [7])
    await ingest.accept(a.bytes, 'p')
    await assert.rejects(ingest.accept(b.bytes, 'p'), rule('IGNORE', 'equivocation'))
    assert.deepEqual(evidence, ['entry'])
    assert.equal((await store.listEvidence()).length, 1)
    assert.ok(store.head(f.hubIds[1])?.id.equals(a.id), 'the first entry stays')
  })

  it('rejects an entry that reuses a device counter already in the log, and takes a late lower one', async () => {
    const e1 = entry(f, 0, 1, undefined, [5])
    await ingest.accept(e1.bytes, 'p')
    await assert.rejects(ingest.accept(entry(f, 0, 2, e1, [5]).bytes, 'p'), rule('REJECT', 'counter-reused'))
    assert.deepEqual(evidence, ['report'])
    // Counters are unique, not increasing: a late lower counter is fine.
    assert.equal(await ingest.accept(entry(f, 0, 2, e1, [3]).bytes, 'p'), 'appended')
  })

  it('finds the earlier report of a reused counter in whichever log holds it (a device added or moved by governance)', async () => {
    const key = signerFromSeed(new Uint8Array(32).fill(77))
    const g = genesisLookup(f.net)
    // A device the network file does not name, registered at both hubs (as before and after a move).
    const lookup: EntryLookup = { hubKey: g.hubKey, device: (d, hub, stamp) => d === 'gov-d' ? { publicKey: key.publicKey, ratedWhPerDay: 1000 } : g.device(d, hub, stamp) }
    const gov = new Ingest(f.net, store, quiet, { onEvidence: ev => evidence.push(ev.kind) }, () => NOW, () => lookup, () => ({ lookup, validators: genesisValidators(f.net) }))
    const signed = (h: number, n: number): Uint8Array => {
      const time = (GENESIS + 100 + n) * 1000
      const report = signReport(key, { device: 'gov-d', counter: 5, periodStart: GENESIS + 90 + n, periodEnd: GENESIS + 100 + n, energyMwh: 10, solarMwh: 20, litS: 5, batteryMv: 3700, soc: 80, tempDeciC: 250, faults: 0 })
      return signEntry(f.net, f.hubs[h], { hub: f.hubIds[h], seq: 1, prev: null, epoch: epochOf(f.net, time), time, reports: [report] })
    }
    await gov.accept(signed(0, 1), 'p')
    await assert.rejects(gov.accept(signed(1, 2), 'p'), rule('REJECT', 'counter-reused'))
    assert.deepEqual(evidence, ['report'])
  })

  it('ignores an entry whose prev is not our head (a fork) and rejects bad signatures', async () => {
    const e1 = entry(f, 0, 1, undefined, [1])
    const other = entry(f, 0, 1, undefined, [9])
    await ingest.accept(e1.bytes, 'p')
    await assert.rejects(ingest.accept(entry(f, 0, 2, other, [2]).bytes, 'p'), rule('IGNORE', 'fork'))
    const forged = entry(f, 0, 2, e1, [2]).bytes.slice()
    forged[forged.length - 1] ^= 1
    await assert.rejects(ingest.accept(forged, 'p'), rule('REJECT', 'entry-signature'))
    assert.equal(store.head(f.hubIds[0])?.seq, 1)
  })
})
