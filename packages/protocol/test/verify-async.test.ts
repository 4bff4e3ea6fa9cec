/**
 * Signature checks on worker threads (VerifyPool) and the async validators built on them: they
 * must give exactly what the synchronous ones give — the same result, or the same first failure
 * (action and code) — on entries mixing every kind of fault. FC_RUNS scales the property runs.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import {
  decodeReport, Domain, encode, entryDomain, epochOf, signEntry, signReport, signVerifiedEntry, verifyDecodedReport, verifyEntry,
  verifyEntryAsync, verifyReport, verifySignature, ValidationError, VerifyPool, type SignatureCheck
} from '../src/index.node.js'
import { DEV_A, DEV_A2, DEV_B, GENESIS, HUB_A, NOW_MS, chainNet as net, hex, report, signed, signers } from './fixtures.js'

const RUNS = Math.max(50, Math.floor(Number(process.env.FC_RUNS ?? 10_000) / 20))
const params = (): fc.Parameters<any> => ({ numRuns: RUNS, ...(process.env.FC_SEED !== undefined ? { seed: Number(process.env.FC_SEED) } : {}) })

/** What a validator did: 'ok', or the action and code of its first failure. */
function outcome (fn: () => unknown): string {
  try {
    fn()
    return 'ok'
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err
    return `${err.action} ${err.code}`
  }
}
async function outcomeAsync (fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn()
    return 'ok'
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err
    return `${err.action} ${err.code}`
  }
}

function checks (n: number): { checks: SignatureCheck[], expected: boolean[] } {
  const out: SignatureCheck[] = []
  const expected: boolean[] = []
  for (let i = 0; i < n; i++) {
    const message = encode({ i })
    const signature = signers.deviceA.sign(Domain.report, message)
    const good = i % 3 !== 1
    if (!good) signature[i % 64] ^= 1
    out.push({ publicKey: signers.deviceA.publicKey, domain: i % 5 === 0 ? entryDomain(net.id) : Domain.report, message, signature: i % 5 === 0 ? signers.deviceA.sign(entryDomain(net.id), message) : signature })
    expected.push(i % 5 === 0 ? true : good)
  }
  return { checks: out, expected }
}

describe('VerifyPool', () => {
  const pools = [new VerifyPool({ threads: 2, minChunk: 4 }), new VerifyPool({ threads: 0 })]
  after(async () => { for (const p of pools) await p.close() })

  for (const [i, name] of ['2 worker threads', 'inline (0 threads)'].entries()) {
    it(`${name}: one result per check, in order, for batches of any size and calls in the same turn`, async () => {
      const pool = pools[i]
      for (const n of [1, 3, 64, 257]) {
        const { checks: c, expected } = checks(n)
        assert.deepEqual(await pool.verifyAll(c), expected, `batch of ${n}`)
        assert.deepEqual(expected, c.map(k => verifySignature(k.publicKey, k.domain, k.message, k.signature)))
      }
      // Many callers in one turn are gathered into one batch and each gets its own answers.
      const calls = Array.from({ length: 20 }, (_, j) => checks(j + 1))
      const before = pool.counts.batches
      const got = await Promise.all(calls.map(async c => await pool.verifyAll(c.checks)))
      assert.deepEqual(got, calls.map(c => c.expected))
      assert.equal(pool.counts.batches, before + 1)
      assert.deepEqual(await pool.verifyAll([]), [])
    })
  }

  it('keeps the process alive while checks are in flight, and not once it is idle', async () => {
    // A child process that awaits one batch on worker threads and then has nothing left to do:
    // it must print the answers (not exit early) and then exit by itself (no ref'd worker left).
    const src = `
      const { VerifyPool, signerFromSeed, Domain } = await import(${JSON.stringify(new URL('../src/index.node.js', import.meta.url).href)})
      const s = signerFromSeed(new Uint8Array(32).fill(3))
      const m = new Uint8Array([1, 2, 3])
      // Small batches one after another: one of the two workers never gets any work.
      const pool = new VerifyPool({ threads: 2 })
      const ok = []
      for (let i = 0; i < 10; i++) ok.push(...await pool.verifyAll([{ publicKey: s.publicKey, domain: Domain.report, message: m, signature: i === 1 ? new Uint8Array(64) : s.sign(Domain.report, m) }]))
      process.stdout.write(ok.filter(x => x).length + ' of ' + ok.length)`
    const file = join(mkdtempSync(join(tmpdir(), 'ecandle-pool-')), 'child.mjs')
    writeFileSync(file, src)
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (b: Buffer) => { out += b.toString() })
    const code = await new Promise<number | null>((resolve, reject) => {
      const t = setTimeout(() => { child.kill(); reject(new Error(`the process did not exit by itself; printed ${JSON.stringify(out)}`)) }, 20_000)
      child.once('exit', c => { clearTimeout(t); resolve(c) })
    })
    assert.equal(code, 0)
    assert.equal(out, '9 of 10')
  })

  it('uses its workers (nothing inline) and spreads a big batch over them', async () => {
    const pool = new VerifyPool({ threads: 2, minChunk: 8 })
    try {
      const { checks: c, expected } = checks(256)
      assert.deepEqual(await pool.verifyAll(c), expected)
      assert.equal(pool.counts.inline, 0)
      // Bad shapes fail as verifySignature fails them.
      assert.deepEqual(await pool.verifyAll([{ ...c[0], signature: c[0].signature.subarray(1) }, { ...c[0], publicKey: new Uint8Array(31) }, c[0]]), [false, false, true])
    } finally {
      await pool.close()
    }
  })

  it('a worker that dies mid-batch: its checks are verified inline, the answers stay right', async () => {
    const pool = new VerifyPool({ threads: 1, minChunk: 1 })
    const { checks: c, expected } = checks(40)
    const p = pool.verifyAll(c)
    await new Promise(resolve => setImmediate(resolve)) // the batch is on its way to the worker
    await (pool as unknown as { slots: Array<{ worker: { terminate: () => Promise<number> } }> }).slots[0].worker.terminate()
    assert.deepEqual(await p, expected)
    assert.deepEqual(await pool.verifyAll(c), expected, 'a new worker takes the next batch')
    await pool.close()
  })
})

// ---- async validators ≡ sync validators ----

type ReportKind = 'good' | 'bad-signature' | 'unregistered' | 'wrong-hub' | 'implausible' | 'malformed' | 'future'
const reportKinds: ReportKind[] = ['good', 'bad-signature', 'unregistered', 'wrong-hub', 'implausible', 'malformed', 'future']

function reportOf (kind: ReportKind, counter: number, device: string): Uint8Array {
  const r = report({ device, counter, periodStart: GENESIS + counter, periodEnd: GENESIS + counter + 60, litS: 10, energyMwh: 100 })
  switch (kind) {
    case 'good': return signed(r)
    case 'bad-signature': { const b = signed(r); b[b.byteLength - 3] ^= 4; return b }
    case 'unregistered': return signReport(signers.stranger, { ...r, device: 'nobody' })
    case 'wrong-hub': return signed({ ...r, device: DEV_B })
    case 'implausible': return signed({ ...r, energyMwh: 50_000_000 })
    case 'malformed': return Uint8Array.of(0xa1, 0x61, 0x70)
    case 'future': return signed({ ...r, periodStart: GENESIS + 9_000, periodEnd: GENESIS + 9_060 })
  }
}

const entryArb = fc.record({
  reports: fc.array(fc.record({ kind: fc.constantFrom<ReportKind>('good', 'good', 'good', 'good', 'good', 'good', ...reportKinds), device: fc.constantFrom(DEV_A, DEV_A2), counter: fc.integer({ min: 1, max: 30 }) }), { minLength: 1, maxLength: 8 }),
  entryFault: fc.constantFrom('none', 'none', 'none', 'signature', 'epoch', 'future', 'unknown-hub')
})

function entryOf (e: { reports: Array<{ kind: ReportKind, device: string, counter: number }>, entryFault: string }): Uint8Array {
  const time = e.entryFault === 'future' ? NOW_MS + 3_600_000 : (GENESIS + 400) * 1000
  const payload = { hub: HUB_A, seq: 1, prev: null, epoch: epochOf(net, time) + (e.entryFault === 'epoch' ? 1 : 0), time, reports: e.reports.map(r => reportOf(r.kind, r.counter, r.device)) }
  const bytes = signEntry(net, e.entryFault === 'unknown-hub' ? signers.stranger : signers.hubA, e.entryFault === 'unknown-hub' ? { ...payload, hub: 'not-a-hub' } : payload)
  if (e.entryFault === 'signature') bytes[bytes.byteLength - 1] ^= 1
  return bytes
}

describe('verifyEntryAsync and verifyDecodedReport give what verifyEntry and verifyReport give', () => {
  const pool = new VerifyPool({ threads: 2, minChunk: 2 })
  after(async () => { await pool.close() })

  it(`the same result or the same first failure on entries mixing every fault (${RUNS} runs)`, async () => {
    const seen = new Set<string>()
    await fc.assert(fc.asyncProperty(entryArb, async e => {
      const bytes = entryOf(e)
      const want = outcome(() => verifyEntry(net, bytes, NOW_MS))
      seen.add(want)
      assert.equal(await outcomeAsync(async () => await verifyEntryAsync(net, bytes, NOW_MS, pool)), want)
      if (want === 'ok') assert.deepEqual((await verifyEntryAsync(net, bytes, NOW_MS, pool)).reports.map(r => r.id), verifyEntry(net, bytes, NOW_MS).reports.map(r => r.id))
    }), params())
    // The generator reaches every rule (the property would be empty otherwise).
    for (const code of ['ok', 'REJECT entry-signature', 'REJECT report-signature', 'REJECT unregistered-device', 'REJECT wrong-hub', 'REJECT implausible', 'REJECT report-encoding', 'REJECT report-future', 'REJECT counter-order']) {
      assert.ok(seen.has(code), `no case ended in ${code}: ${[...seen].join(', ')}`)
    }
  })

  it('an earlier report\'s bad signature wins over a later malformed report, and the other way round', async () => {
    const bad = { kind: 'bad-signature' as const, device: DEV_A, counter: 1 }
    const junk = { kind: 'malformed' as const, device: DEV_A, counter: 2 }
    for (const [reports, code] of [[[bad, junk], 'REJECT report-signature'], [[junk, bad], 'REJECT report-encoding']] as const) {
      const bytes = entryOf({ reports: [...reports], entryFault: 'none' })
      assert.equal(outcome(() => verifyEntry(net, bytes, NOW_MS)), code)
      assert.equal(await outcomeAsync(async () => await verifyEntryAsync(net, bytes, NOW_MS, pool)), code)
    }
  })

  it('verifyDecodedReport: the rules after decoding, in verifyReport\'s order', async () => {
    for (const kind of reportKinds.filter(k => k !== 'malformed')) {
      for (const hub of [HUB_A, 'another-hub']) {
        const bytes = reportOf(kind, 5, DEV_A)
        const want = outcome(() => verifyReport(net, bytes, hub))
        assert.equal(await outcomeAsync(async () => await verifyDecodedReport(net, decodeReport(bytes), hub, pool)), want, `${kind} via ${hub}`)
      }
    }
  })

  it('signVerifiedEntry returns what verifyEntry returns for the same entry, and applies the rules that need no signature check', () => {
    const reports = [signed({ counter: 3, energyMwh: 100 }), signed({ device: DEV_A2, counter: 1, energyMwh: 100 })].map(b => decodeReport(b))
    const time = (GENESIS + 400) * 1000
    const header = { hub: HUB_A, seq: 1, prev: null, epoch: epochOf(net, time), time }
    const own = signVerifiedEntry(net, signers.hubA, header, reports.sort((a, b) => a.report.device < b.report.device ? -1 : 1), NOW_MS)
    const v = verifyEntry(net, own.bytes, NOW_MS)
    const plain = (e: typeof v): unknown => ({
      ...e, id: e.id.toString(), reports: e.reports.map(r => r.id), body: hex(e.body), bytes: hex(e.bytes), signature: hex(e.signature),
      payload: { ...e.payload, reports: e.payload.reports.map(hex) }
    })
    assert.deepEqual(plain(own), plain(v))
    assert.equal(outcome(() => signVerifiedEntry(net, signers.hubA, { ...header, epoch: header.epoch + 1 }, reports, NOW_MS)), 'REJECT entry-epoch')
    assert.equal(outcome(() => signVerifiedEntry(net, signers.hubA, header, [reports[0], reports[0]], NOW_MS)), 'REJECT counter-order')
    assert.equal(outcome(() => signVerifiedEntry(net, signers.hubA, header, [], NOW_MS)), 'REJECT entry-shape')
    assert.equal(outcome(() => signVerifiedEntry(net, signers.hubA, header, reports, time - 60_000)), 'IGNORE future')
  })
})
