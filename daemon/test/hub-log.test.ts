import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SubmitResult } from '@ecandle/hardware-bridge'
import { decodeReport, limits, sharedVerifyPool, signReport, type DecodedReport, type Signer, type VerifiedEntry } from '@ecandle/protocol'
import { GENESIS, fixture, type Fixture } from '@ecandle/protocol/testing'
import { Store } from '@ecandle/store'
import { Ingest } from '@ecandle/sync'
import { FAIR_SHARE, HubLog, fairBatches } from '../src/hub-log.js'

const quiet = { info: () => {}, warn: () => {}, debug: () => {} }
const NOW_MS = (GENESIS + 100_000) * 1000

/**
 * HubLog, the device path from link to ack, with a real LevelDB store and the real Ingest: a
 * report is verified once, acknowledged only once the entry holding it is written with a synced
 * write, a device may keep a window of reports in flight, and the bounds hold.
 */
describe('HubLog (own log: device reports → entries → acks)', () => {
  let dir: string
  let f: Fixture
  let store: Store
  let ingest: Ingest
  let appended: Array<{ e: VerifiedEntry, sync: boolean }>

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ecandle-hublog-'))
    f = fixture()
    store = await Store.open(dir, f.net.id)
    ingest = new Ingest(f.net, store, quiet, {}, () => NOW_MS)
    appended = []
    const append = ingest.append.bind(ingest)
    ingest.append = async (e, from, opts) => { appended.push({ e, sync: opts?.sync === true }); return await append(e, from, opts) }
  })
  afterEach(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  const hubLog = (maxPending = 8192): HubLog => new HubLog(f.net, f.hubIds[0], f.hubs[0], store, ingest, quiet, { entryIntervalMs: 3_600_000, maxPending, maxReportAgeS: 30 * 86_400 }, () => NOW_MS)

  /** A report of hub 0's device `d` (0 or 1) with this counter, ending `ago` s before now. */
  function report (d: number, counter: number, over: { energyMwh?: number, signer?: Signer, ago?: number } = {}): DecodedReport {
    const end = NOW_MS / 1000 - (over.ago ?? 10) - (counter % 1000)
    return decodeReport(signReport(over.signer ?? f.devices[0][d], {
      device: `h0-d${d}`, counter, periodStart: end - 10, periodEnd: end, energyMwh: over.energyMwh ?? 5, solarMwh: 1, litS: 5, batteryMv: 3700, soc: 80, tempDeciC: 250, faults: 0
    }))
  }

  /** Waits (polling: nothing else tells) until `n` reports are checked and pending. */
  async function untilPending (log: HubLog, n: number): Promise<void> {
    for (let i = 0; log.pendingReports < n; i++) {
      if (i > 500) throw new Error(`only ${log.pendingReports} of ${n} reports pending`)
      await new Promise(resolve => setTimeout(resolve, 10))
    }
  }

  const settled = async (ps: Array<Promise<SubmitResult>>): Promise<string[]> => (await Promise.all(ps)).map(r => r.status === 'refused' ? `refused ${r.reason}` : r.status)

  it('acks only once the entry is written (synced); each report verified once, our own entry not again', async () => {
    const log = hubLog()
    const pool = sharedVerifyPool()
    const before = pool.counts.checks
    let answered = false
    const p = log.submit(report(0, 7)).then(r => { answered = true; return r })
    await untilPending(log, 1)
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.equal(answered, false, 'no answer before the entry is written')
    assert.equal(await store.findReport('h0-d0', 7), undefined)
    await log.flush()
    assert.deepEqual(await p, { status: 'stored' })
    assert.deepEqual(await store.findReport('h0-d0', 7), { seq: 1, index: 0 })
    assert.deepEqual(appended.map(a => a.sync), [true], 'written with a synced batch')
    assert.equal(pool.counts.checks - before, 1, 'one signature check: the report; none for our own entry')
    // A resend after the ack: a duplicate, from the store.
    assert.deepEqual(await log.submit(report(0, 7)), { status: 'duplicate' })
  })

  it('a window of 256 reports of one device fills one entry at once; all acked stored, each once', async () => {
    const log = hubLog()
    const answers = await settled(Array.from({ length: 256 }, (_, i) => log.submit(report(0, 1000 + i))))
    assert.deepEqual(new Set(answers), new Set(['stored']))
    assert.equal(appended.length, 1, 'a full entry is written without waiting for the interval')
    assert.equal(appended[0].e.reports.length, 256)
    assert.equal(store.reportCount, 256)
  })

  it('a resend of a pending report gets the same answer without a second check; other bytes with its counter are refused', async () => {
    const log = hubLog()
    const pool = sharedVerifyPool()
    const r = report(0, 42)
    const first = log.submit(r)
    await untilPending(log, 1)
    const before = pool.counts.checks
    const again = log.submit(decodeReport(r.bytes))
    const other = log.submit(report(0, 42, { energyMwh: 6 }))
    assert.deepEqual(await other, { status: 'refused', reason: 'counter-reused', message: 'device h0-d0 sent two different reports with counter 42' })
    await log.flush()
    assert.deepEqual([await first, await again], [{ status: 'stored' }, { status: 'stored' }])
    assert.equal(pool.counts.checks - before, 1, 'only the different report was checked')
  })

  it('refusals keep their reasons: bad signature, unregistered, wrong hub, implausible, clock', async () => {
    const log = hubLog()
    const forged = report(0, 1, { signer: f.devices[0][1] })
    const answers = await settled([
      log.submit(forged),
      log.submit(decodeReport(signReport(f.devices[0][0], { ...report(0, 2).report, device: 'nobody' }))),
      log.submit(decodeReport(signReport(f.devices[1][0], { ...report(0, 3).report, device: 'h1-d0' }))),
      log.submit(report(0, 4, { energyMwh: 10_000_000 })),
      log.submit(report(0, 5, { ago: -3600 }))
    ])
    assert.deepEqual(answers, ['refused bad-signature', 'refused unregistered-device', 'refused wrong-hub', 'refused implausible', 'refused clock'])
    assert.equal(store.reportCount, 0)
  })

  it(`bounds: at most maxPending held; past ${FAIR_SHARE} per device only while under half, so a backlog cannot starve another device`, async () => {
    const log = hubLog(64)
    // Device 0 drains a backlog: 16 always, then up to half of 64 in all (32), then busy.
    const a = Array.from({ length: 40 }, (_, i) => log.submit(report(0, 100 + i)))
    await untilPending(log, 32)
    // Device 1 still gets its first 16 in; its 17th is busy (more than half is in use).
    const b = Array.from({ length: 17 }, (_, i) => log.submit(report(1, 100 + i)))
    await untilPending(log, 32 + FAIR_SHARE)
    await log.flush()
    const ra = await settled(a)
    const rb = await settled(b)
    assert.equal(ra.filter(s => s === 'stored').length, 32)
    assert.equal(ra.filter(s => s === 'busy').length, 8)
    assert.equal(rb.filter(s => s === 'stored').length, FAIR_SHARE)
    assert.deepEqual(rb.slice(FAIR_SHARE), ['busy'])
    assert.equal(log.counts.busy, 9)
  })

  it('fairBatches: devices take turns in every entry, ≤ 256 reports and within the entry byte limit', () => {
    const pending = [
      ...Array.from({ length: 300 }, (_, i) => ({ report: report(0, 1 + i), waiters: [] })),
      ...Array.from({ length: 10 }, (_, i) => ({ report: report(1, 1 + i), waiters: [] }))
    ]
    const batches = fairBatches(pending)
    assert.deepEqual(batches.map(b => b.length), [256, 54])
    assert.equal(batches[0].filter(p => p.report.report.device === 'h0-d1').length, 10, 'the small device is in the first entry')
    assert.deepEqual(batches.flat().filter(p => p.report.report.device === 'h0-d0').map(p => p.report.report.counter), Array.from({ length: 300 }, (_, i) => 1 + i), 'each device oldest first')
    // Reports of the maximum size: the byte limit cuts the entry before 256.
    const big = { report: { ...pending[0].report, bytes: new Uint8Array(limits.maxReportBytes) }, waiters: [] }
    const sizes = fairBatches(Array.from({ length: 300 }, () => big)).map(b => b.length)
    assert.ok(sizes[0] < 256 && sizes[0] * (limits.maxReportBytes + 3) <= limits.maxEntryBytes - 1024, String(sizes))
  })
})
