// In-process ingest bench: signed entries of 256 emulator-made reports from several hubs of a
// generated network go through Ingest.accept (what the gossip validator calls) into a real
// LevelDB Store; raw node:crypto Ed25519 verifies of the same report signatures run beside it.
import { createPublicKey, verify } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import {
  contentId, decodeEntry, decodeReport, Domain, epochOf, generateSeed, limits, locationDegrees, parseNetwork, peerIdFromPublicKey, signEntry,
  signerFromSeed, signingBytes, toHex, verifyEntry, verifyEntryAsync
} from '@ecandle/protocol'
import { createEmulator } from '@ecandle/emulator'
import { Store } from '@ecandle/store'
import { Ingest } from '@ecandle/sync'
import { rawThreadpool, rawWorkers } from './raw-verify.js'
import { dirBytes, log, mainThreadCpuMs } from './util.js'

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
const quiet = { info () {}, warn () {}, debug () {} }

/**
 * A network of `hubs` hubs × `devicesPerHub` devices, and `periods` report periods of every device
 * made by the real emulator (driven by a simulated clock, so ~100k reports take seconds, not days),
 * batched per hub into signed, chained entries of `perEntry` reports the way HubLog does.
 */
export async function generate ({ hubs = 4, devicesPerHub = 250, periods = 103, reportIntervalS = 10, perEntry = limits.maxReportsPerEntry } = {}) {
  const t0 = performance.now()
  const intervalMs = reportIntervalS * 1000
  // Every report and entry lies in the recent past: within the hub's clock-skew rules.
  const startMs = Math.floor((Date.now() - (periods + 6) * intervalMs) / 1000) * 1000
  const hubSeeds = Array.from({ length: hubs }, () => generateSeed())
  const hubSigners = hubSeeds.map(s => signerFromSeed(s))
  const peerIds = hubSigners.map(s => peerIdFromPublicKey(s.publicKey))
  const acct = () => toHex(signerFromSeed(generateSeed()).publicKey)
  const operators = peerIds.map(() => acct())
  const backer = acct()
  const devices = peerIds.map(() => [])
  const def = {
    name: 'ecandle-bench',
    genesisTime: Math.floor(startMs / 1000) - 86_400,
    epochLengthS: 60,
    gracePeriodS: 10,
    emissionPerEpoch: '1000000000',
    capexBps: 6000,
    deviceCapMwhPerEpoch: '1000000',
    validators: peerIds.map((peerId, i) => ({ peerId, operator: operators[i], location: { latE6: -1_290_000 + i * 1_000_000, lonE6: 36_820_000 } })),
    devices: [],
    bootstrap: []
  }
  peerIds.forEach((hub, i) => {
    for (let j = 1; j <= devicesPerHub; j++) {
      const seed = generateSeed()
      const id = `h${i + 1}-d${String(j).padStart(3, '0')}`
      const ratedWhPerDay = 100 + 25 * (j % 5)
      def.devices.push({ id, publicKey: toHex(signerFromSeed(seed).publicKey), hub, capex: backer, opex: operators[i], ratedWhPerDay })
      devices[i].push({ id, seed, ratedWhPerDay })
    }
  })
  const net = parseNetwork(def)

  // The real emulator, one per hub, collects its signed reports through a host that stores everything.
  const reports = peerIds.map(() => [])
  for (let i = 0; i < hubs; i++) {
    let now = startMs
    const emu = createEmulator({ devices: devices[i], location: locationDegrees(def.validators[i].location), reportIntervalS, timers: false, now: () => now })
    await emu.start({ now: () => now, submit: async (d) => { reports[i].push(d.bytes); return { status: 'stored' } } })
    for (let k = 0; k <= periods; k++) {
      now += intervalMs
      await emu.tick()
    }
    await emu.stop()
  }
  const tReports = performance.now()

  // Entries as HubLog makes them: reports in arrival order, ≤ perEntry a batch, sorted by device then counter.
  const entriesByHub = []
  let reportCount = 0
  for (let i = 0; i < hubs; i++) {
    const decoded = reports[i].map(b => decodeReport(b))
    const out = []
    let prev = null
    let lastTime = 0
    for (let o = 0; o + perEntry <= decoded.length; o += perEntry) {
      const batch = decoded.slice(o, o + perEntry)
        .sort((a, b) => a.report.device < b.report.device ? -1 : a.report.device > b.report.device ? 1 : a.report.counter - b.report.counter)
      const time = Math.max(lastTime, ...batch.map(r => r.report.periodEnd * 1000)) + 250
      lastTime = time
      const bytes = signEntry(net, hubSigners[i], { hub: peerIds[i], seq: out.length + 1, prev, epoch: epochOf(net, time), time, reports: batch.map(r => r.bytes) })
      prev = contentId(bytes)
      out.push(bytes)
      reportCount += batch.length
    }
    entriesByHub.push(out)
  }
  // Interleave the hubs' logs, each in seq order (as gossip delivers them: no gaps).
  const entries = []
  for (let k = 0; entriesByHub.some(l => k < l.length); k++) {
    for (let i = 0; i < hubs; i++) if (k < entriesByHub[i].length) entries.push({ bytes: entriesByHub[i][k], from: peerIds[(i + 1) % hubs] })
  }
  const all = reports.flat()
  const reportSizes = all.map(b => b.byteLength)
  log(`generated ${all.length} reports in ${((tReports - t0) / 1000).toFixed(1)} s, ${entries.length} entries (${reportCount} reports) in ${((performance.now() - tReports) / 1000).toFixed(1)} s`)
  return {
    net,
    entries,
    reportCount,
    entryBytes: entries.reduce((n, e) => n + e.bytes.byteLength, 0),
    reportBytesMean: reportSizes.reduce((a, b) => a + b, 0) / reportSizes.length,
    reportBytesMin: Math.min(...reportSizes),
    reportBytesMax: Math.max(...reportSizes)
  }
}

/** Per entry, its report signatures ready for crypto.verify: message buffer, KeyObject, signature. */
export function rawVerifyInputs (g) {
  const keys = new Map()
  return g.entries.map(e => decodeEntry(e.bytes).payload.reports.map(b => {
    const r = decodeReport(b)
    let key = keys.get(r.report.device)
    if (key === undefined) {
      key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, g.net.devices.get(r.report.device).publicKey]), format: 'der', type: 'spki' })
      keys.set(r.report.device, key)
    }
    return { msg: signingBytes(Domain.report, r.payload), key, raw: g.net.devices.get(r.report.device).publicKey, sig: Buffer.from(r.signature) }
  }))
}

function rawVerifyChunk (items) {
  let ok = 0
  for (const it of items) if (verify(null, it.msg, it.key, it.sig)) ok++
  if (ok !== items.length) throw new Error(`raw verify: ${items.length - ok} signatures failed`)
}

/**
 * The ingest figure. The entries go through Ingest.accept into a fresh Store in chunks; before or
 * after each chunk (alternating), the same chunk's report signatures are verified raw with
 * crypto.verify on one core, on every core (one worker thread per core, a tight loop each) and
 * through the libuv threadpool (crypto.verify with a callback); on every `verifyOnlyEvery`-th
 * chunk verifyEntry and verifyEntryAsync alone (no store) run too.
 * Interleaving puts all of them under the same machine conditions, so the ratios hold on a busy host.
 * `window`: entries in flight at once, as gossipsub runs validators of arriving messages
 * concurrently (awaitRpcMessageHandler is off): verification of the next entries overlaps the
 * pending LevelDB write. The Store is left open in `dir` for the disk figure.
 */
export async function measureIngest (g, { chunkEntries = 16, window = 8, verifyOnlyEvery = 4 } = {}) {
  const inputs = rawVerifyInputs(g)
  const dir = await mkdtemp(join(tmpdir(), 'ecandle-bench-ingest-'))
  const store = await Store.open(join(dir, 'db'), g.net.id)
  const ingest = new Ingest(g.net, store, quiet)
  const t = { raw: 0, rawAllCores: 0, rawThreadpool: 0, ingest: 0, verifyOnly: 0, verifyAsyncOnly: 0 }
  // CPU time (ms) of the ingest and single-core raw phases: all threads, and the main thread alone.
  const cpu = { ingest: 0, ingestMain: 0, raw: 0 }
  const cpuNow = () => { const u = process.cpuUsage(); return { all: (u.user + u.system) / 1000, main: mainThreadCpuMs() } }
  const n = { raw: 0, rawAllCores: 0, rawThreadpool: 0, ingest: 0, verifyOnly: 0, verifyAsyncOnly: 0 }
  const chunks = Math.ceil(g.entries.length / chunkEntries)
  const chunkItems = Array.from({ length: chunks }, (_, c) => inputs.slice(c * chunkEntries, (c + 1) * chunkEntries).flat())
  const workers = await rawWorkers(chunkItems)
  // Warm the pool's worker threads, as a running hub's are.
  await verifyEntryAsync(g.net, g.entries[0].bytes, Date.now())
  for (let c = 0; c < chunks; c++) {
    const entries = g.entries.slice(c * chunkEntries, (c + 1) * chunkEntries)
    const items = chunkItems[c]
    const raw = async () => {
      const c0 = cpuNow()
      let t0 = performance.now()
      rawVerifyChunk(items)
      t.raw += performance.now() - t0
      cpu.raw += cpuNow().all - c0.all
      n.raw += items.length
      t0 = performance.now()
      if (await workers.verify(c) !== items.length) throw new Error('raw verify on every core: a signature failed')
      t.rawAllCores += performance.now() - t0
      n.rawAllCores += items.length
      t0 = performance.now()
      if (await rawThreadpool(items) !== items.length) throw new Error('raw verify on the threadpool: a signature failed')
      t.rawThreadpool += performance.now() - t0
      n.rawThreadpool += items.length
    }
    const vOnly = async () => {
      if (c % verifyOnlyEvery !== 0) return
      let t0 = performance.now()
      for (const e of entries) verifyEntry(g.net, e.bytes, Date.now())
      t.verifyOnly += performance.now() - t0
      n.verifyOnly += items.length
      t0 = performance.now()
      await Promise.all(entries.map(async e => await verifyEntryAsync(g.net, e.bytes, Date.now())))
      t.verifyAsyncOnly += performance.now() - t0
      n.verifyAsyncOnly += items.length
    }
    const ing = async () => {
      const c0 = cpuNow()
      const t0 = performance.now()
      const inflight = new Set()
      for (const e of entries) {
        const p = ingest.accept(e.bytes, e.from).then(r => {
          if (r !== 'appended') throw new Error(`ingest: ${r}`)
          inflight.delete(p)
        })
        inflight.add(p)
        if (inflight.size >= window) await Promise.race(inflight)
      }
      await Promise.all(inflight)
      t.ingest += performance.now() - t0
      const c1 = cpuNow()
      cpu.ingest += c1.all - c0.all
      cpu.ingestMain += c1.main - c0.main
      n.ingest += items.length
    }
    if (c % 2 === 0) { await raw(); await vOnly(); await ing() } else { await ing(); await vOnly(); await raw() }
  }
  await workers.close()
  if (store.reportCount !== g.reportCount) throw new Error(`ingest: stored ${store.reportCount} reports, expected ${g.reportCount}`)
  const rate = (k) => n[k] / (t[k] / 1000)
  return {
    ingestReportsPerSec: rate('ingest'),
    rawVerifyPerSec: rate('raw'),
    rawVerifyAllCoresPerSec: rate('rawAllCores'),
    rawVerifyThreadpoolPerSec: rate('rawThreadpool'),
    rawThreads: workers.threads,
    verifyEntryReportsPerSec: rate('verifyOnly'),
    verifyEntryAsyncReportsPerSec: rate('verifyAsyncOnly'),
    // µs of CPU per report: all threads of the process, and the main thread alone (Linux /proc).
    ingestCpuUsPerReport: cpu.ingest * 1000 / n.ingest,
    ingestMainThreadCpuUsPerReport: cpu.ingestMain * 1000 / n.ingest,
    rawCpuUsPerReport: cpu.raw * 1000 / n.raw,
    ingestSeconds: t.ingest / 1000,
    rawSeconds: t.raw / 1000,
    dir,
    store
  }
}

/** Bytes on disk per stored report: compaction of every key, close, then the DB directory size. */
export async function diskPerReport (g, run) {
  const before = await dirBytes(join(run.dir, 'db'))
  await run.store.compact()
  await run.store.close()
  const after = await dirBytes(join(run.dir, 'db'))
  await rm(run.dir, { recursive: true, force: true })
  return { bytesBeforeCompact: before, bytes: after, perReport: after / g.reportCount, entryBytesPerReport: g.entryBytes / g.reportCount }
}
