// `npm run bench`: ingest throughput vs raw Ed25519, bytes on disk per report, RSS of a hub with
// 1,000 devices (default and lowpower profiles), the container image size, and replication latency across 5 hub processes at two entry intervals.
// Prints a table, then (last line of stdout) one JSON object. Progress goes to stderr.
// Knobs (environment): BENCH_ONLY=<parts, comma-separated; PARTS below>  BENCH_MEASURE_S (60)  BENCH_WARMUP_S (12)
// BENCH_RSS_S (60)  BENCH_SHORT_INTERVAL_MS (250)  BENCH_PERIODS (101: report periods per device in
// the ingest set, 1,000 devices → ~101k reports). `node bench/run.js --quick`: a short smoke run.
import { cpus, loadavg } from 'node:os'
import { generate, measureIngest, diskPerReport } from './lib/ingest.js'
import { measureReplication, measureRss } from './lib/replication.js'
import { cpuPressure, log, round } from './lib/util.js'

const quick = process.argv.includes('--quick')
const env = (k, d) => process.env[k] === undefined || process.env[k] === '' ? d : Number(process.env[k])
/** Every part of the bench, in run order; BENCH_ONLY picks some. */
const PARTS = ['ingest', 'rss', 'replication', 'agreement', 'devices', 'audit', 'pages', 'reach', 'image', 'governance']
const only = new Set(process.env.BENCH_ONLY === undefined || process.env.BENCH_ONLY === '' ? PARTS : process.env.BENCH_ONLY.split(','))
for (const p of only) {
  if (!PARTS.includes(p)) { process.stderr.write(`bench: unknown part ${p} in BENCH_ONLY (parts: ${PARTS.join(', ')})\n`); process.exit(2) }
}
const cfg = {
  periods: env('BENCH_PERIODS', quick ? 12 : 101),
  measureS: env('BENCH_MEASURE_S', quick ? 15 : 60),
  warmupS: env('BENCH_WARMUP_S', quick ? 8 : 10),
  rssS: env('BENCH_RSS_S', quick ? 15 : 60),
  shortIntervalMs: env('BENCH_SHORT_INTERVAL_MS', 250),
  defaultIntervalMs: 5000
}

const t0 = Date.now()
const load = { start: loadavg()[0] }
const pressure = { start: cpuPressure() }
const out = { cores: cpus().length, node: process.version }
const rows = []
const row = (figure, value, aim, note = '') => rows.push([figure, value, aim, note])
const fmt = (x, d = 0) => x === null || x === undefined ? 'n/a' : !Number.isFinite(x) ? 'never' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })

if (only.has('ingest')) {
  log(`ingest: generating ${cfg.periods} report periods × 1,000 devices of 4 hubs with the emulator`)
  const g = await generate({ hubs: 4, devicesPerHub: 250, periods: cfg.periods })
  load.ingest = loadavg()[0]
  pressure.ingest = cpuPressure()
  log(`ingest: ${g.entries.length} entries of 256 reports through Ingest.accept, interleaved with raw verifies`)
  const ing = await measureIngest(g)
  const disk = await diskPerReport(g, ing)
  Object.assign(out, {
    ingestReportsPerSec: round(ing.ingestReportsPerSec),
    rawVerifyPerSec: round(ing.rawVerifyPerSec),
    ingestVsRawRatio: round(ing.ingestReportsPerSec / ing.rawVerifyPerSec, 3),
    rawVerifyAllCoresPerSec: round(ing.rawVerifyAllCoresPerSec),
    rawAllCoresVsRawRatio: round(ing.rawVerifyAllCoresPerSec / ing.rawVerifyPerSec, 3),
    ingestVsRawAllCoresRatio: round(ing.ingestReportsPerSec / ing.rawVerifyAllCoresPerSec, 3),
    rawVerifyThreadpoolPerSec: round(ing.rawVerifyThreadpoolPerSec),
    rawThreadpoolVsRawRatio: round(ing.rawVerifyThreadpoolPerSec / ing.rawVerifyPerSec, 3),
    rawThreads: ing.rawThreads,
    verifyEntryReportsPerSec: round(ing.verifyEntryReportsPerSec),
    verifyEntryVsRawRatio: round(ing.verifyEntryReportsPerSec / ing.rawVerifyPerSec, 3),
    verifyEntryAsyncReportsPerSec: round(ing.verifyEntryAsyncReportsPerSec),
    verifyEntryAsyncVsRawRatio: round(ing.verifyEntryAsyncReportsPerSec / ing.rawVerifyPerSec, 3),
    ingestCpuUsPerReport: round(ing.ingestCpuUsPerReport, 1),
    ingestMainThreadCpuUsPerReport: round(ing.ingestMainThreadCpuUsPerReport, 1),
    rawCpuUsPerReport: round(ing.rawCpuUsPerReport, 1),
    ingestReports: g.reportCount,
    diskBytesPerReport: round(disk.perReport, 1),
    canonicalReportBytes: round(g.reportBytesMean, 1),
    diskVsReportRatio: round(disk.perReport / g.reportBytesMean, 3),
    entryBytesPerReport: round(disk.entryBytesPerReport, 1),
    diskBytesBeforeCompact: disk.bytesBeforeCompact,
    diskBytesAfterCompact: disk.bytes
  })
  row('ingest (Ingest.accept → LevelDB)', `${fmt(out.ingestReportsPerSec)} reports/s`, '', `${fmt(g.reportCount)} reports, entries of 256, 8 in flight; signatures on worker threads`)
  row('raw Ed25519 verify, one core', `${fmt(out.rawVerifyPerSec)} /s`, '', 'same signatures, interleaved with ingest (node:crypto, main thread)')
  row(`raw Ed25519 verify, ${out.rawThreads} cores`, `${fmt(out.rawVerifyAllCoresPerSec)} /s`, '', `${fmt(out.rawAllCoresVsRawRatio, 2)}× one core (a worker per core, tight loop: the ceiling); libuv threadpool (crypto.verify callback): ${fmt(out.rawVerifyThreadpoolPerSec)} /s = ${fmt(out.rawThreadpoolVsRawRatio, 2)}×`)
  row('ingest / raw verify (one core)', fmt(out.ingestVsRawRatio, 2), '≥ 1.6', `ingest / raw on ${out.rawThreads} cores ${fmt(out.ingestVsRawAllCoresRatio, 2)}; verifyEntryAsync alone: ${fmt(out.verifyEntryAsyncReportsPerSec)} /s (${fmt(out.verifyEntryAsyncVsRawRatio, 2)}); verifyEntry (sync) ${fmt(out.verifyEntryReportsPerSec)} /s (${fmt(out.verifyEntryVsRawRatio, 2)})`)
  row('CPU per report: ingest / raw verify', `${fmt(out.ingestCpuUsPerReport, 1)} / ${fmt(out.rawCpuUsPerReport, 1)} µs`, '', `ingest's main thread alone ${fmt(out.ingestMainThreadCpuUsPerReport, 1)} µs (the rest on the verify threads); all threads, same phases as above`)
  row('disk bytes per report', fmt(out.diskBytesPerReport, 1), `≤ ${fmt(1.2 * g.reportBytesMean, 0)}`, `LevelDB after compaction, ${fmt(g.reportCount)} reports`)
  row('canonical signed report', `${fmt(out.canonicalReportBytes, 1)} B`, '', `disk/report = ${fmt(out.diskVsReportRatio, 2)}× (aim ≤ 1.2×); entry bytes/report ${fmt(out.entryBytesPerReport, 1)}`)
}

if (only.has('rss')) {
  load.rss = loadavg()[0]
  pressure.rss = cpuPressure()
  // The same hub and devices in both resource profiles (daemon/src/profile.ts), one after the other.
  const m = await measureRss({ devices: 1000, seconds: cfg.rssS, profile: 'default' })
  const lp = await measureRss({ devices: 1000, seconds: cfg.rssS, profile: 'lowpower' })
  Object.assign(out, {
    rssMb: round(m.rssMb, 1), rssMaxSampledMb: round(m.maxSampledRssMb, 1), rssHwmMb: round(m.hwmMb, 1), rssAfterS: cfg.rssS, rssReportsStored: m.reportsStored, rssHubCpuPct: round(m.cpuPct, 1),
    rssLowpowerMb: round(lp.rssMb, 1), rssLowpowerMaxSampledMb: round(lp.maxSampledRssMb, 1), rssLowpowerHwmMb: round(lp.hwmMb, 1), rssLowpowerReportsStored: lp.reportsStored, rssLowpowerHubCpuPct: round(lp.cpuPct, 1),
    rssLowpowerVsDefault: round(lp.rssMb / m.rssMb, 3)
  })
  row('RSS, 1 hub × 1,000 devices', `${fmt(out.rssMb, 1)} MB`, '≤ 150 MB', `profile default; VmRSS after ${cfg.rssS} s; max sampled ${fmt(out.rssMaxSampledMb, 1)}, VmHWM ${fmt(out.rssHwmMb, 1)}; hub CPU ${fmt(out.rssHubCpuPct, 0)}% of a core; ${fmt(m.reportsStored)} reports stored`)
  row('RSS, 1 hub × 1,000 devices, lowpower', `${fmt(out.rssLowpowerMb, 1)} MB`, '≤ 120 MB', `"profile": "lowpower"; ${fmt(out.rssLowpowerVsDefault, 2)}× default; max sampled ${fmt(out.rssLowpowerMaxSampledMb, 1)}, VmHWM ${fmt(out.rssLowpowerHwmMb, 1)}; hub CPU ${fmt(out.rssLowpowerHubCpuPct, 0)}% of a core; ${fmt(lp.reportsStored)} reports stored`)
}

if (only.has('replication')) {
  const rep = {}
  for (const [name, entryIntervalMs] of [['default', cfg.defaultIntervalMs], ['short', cfg.shortIntervalMs]]) {
    load[`replication_${name}`] = loadavg()[0]
    pressure[`replication_${name}`] = cpuPressure()
    rep[name] = await measureReplication({ hubs: 5, devicesPerHub: 200, reportIntervalS: 10, entryIntervalMs, warmupS: cfg.warmupS, measureS: cfg.measureS })
    const r = rep[name]
    log(`replication ${entryIntervalMs} ms: p50 ${r.p50Ms} p99 ${r.p99Ms} (${r.completeReports}/${r.expectedReports} complete) in ${r.totalS.toFixed(0)} s`)
    row(`replication p50 / p99, entry ${entryIntervalMs} ms`, `${fmt(r.p50Ms)} / ${fmt(r.p99Ms)} ms`, 'p99 ≤ 1,000 ms',
      `${fmt(r.completeReports)}/${fmt(r.expectedReports)} reports on all 5 hubs; own hub p50/p99 ${fmt(r.originP50Ms)}/${fmt(r.originP99Ms)}; own→last hub p50/p99 ${fmt(r.spreadP50Ms)}/${fmt(r.spreadP99Ms)}; hub CPU ${r.hubCpuPct.map(x => fmt(x, 0)).join('/')}% of a core`)
    row(`RSS of each of the 5 hubs, entry ${entryIntervalMs} ms`, `${r.hubRssMb.map(x => fmt(x, 0)).join(' / ')} MB`, '', `profile default; VmRSS at the end of the run; 200 devices each, the reports of all 1,000 stored on every hub`)
  }
  const d = rep.default
  const s = rep.short
  Object.assign(out, {
    replicationP50Ms: d.p50Ms,
    replicationP90Ms: d.p90Ms,
    replicationP99Ms: d.p99Ms,
    replicationEntryIntervalMs: d.entryIntervalMs,
    replicationShortEntryIntervalMs: s.entryIntervalMs,
    replicationShortP50Ms: s.p50Ms,
    replicationShortP90Ms: s.p90Ms,
    replicationShortP99Ms: s.p99Ms,
    replication: Object.fromEntries(Object.entries(rep).map(([k, r]) => [k, {
      ...r,
      hubRssMb: r.hubRssMb.map(x => round(x, 1)),
      hubCpuPct: r.hubCpuPct.map(x => round(x, 1)),
      entriesPerHubPerS: r.entriesPerHubPerS.map(x => round(x, 2)),
      maxMs: Number.isFinite(r.maxMs) ? r.maxMs : null
    }]))
  })
  // JSON has no Infinity: a percentile that falls on a report never stored everywhere is null.
  for (const k of ['replicationP50Ms', 'replicationP90Ms', 'replicationP99Ms', 'replicationShortP50Ms', 'replicationShortP90Ms', 'replicationShortP99Ms']) if (!Number.isFinite(out[k])) out[k] = null
  for (const r of Object.values(out.replication)) for (const k of Object.keys(r)) if (typeof r[k] === 'number' && !Number.isFinite(r[k])) r[k] = null
}

// Issue 3 (agreement) and issue 4 (device links) figures, from their own modules.
const extra = []
if (only.has('agreement')) {
  const { benchAgreement, formatAgreement } = await import('./agreement.js')
  out.agreement = await benchAgreement(quick ? { sizes: [4], epochs: 3, tallyReports: 10_000, tallyDevices: 100 } : {})
  extra.push(formatAgreement(out.agreement))
}
if (only.has('devices')) {
  const { benchDevices, formatDevices } = await import('./devices.js')
  out.devices = await benchDevices()
  const f = formatDevices(out.devices)
  if (Array.isArray(f)) for (const r of f) Array.isArray(r) ? row(...r) : extra.push(String(r))
  else extra.push(String(f))
}
if (only.has('audit')) {
  const { benchAudit, formatAudit } = await import('./audit.js')
  out.audit = await benchAudit({ reports: quick ? 10_000 : 100_000 })
  for (const r of formatAudit(out.audit)) row(...r)
}
if (only.has('pages')) {
  const { benchPages, formatPages } = await import('./pages.js')
  out.pages = await benchPages()
  for (const r of formatPages(out.pages)) row(...r)
}

if (only.has('reach')) {
  const { benchReach, formatReach } = await import('./reach.js')
  load.reach = loadavg()[0]
  pressure.reach = cpuPressure()
  out.reach = await benchReach(quick ? { runs: 1, measureS: 10 } : {})
  for (const r of formatReach(out.reach)) row(...r)
}

if (only.has('image')) {
  const { benchImage } = await import('./image.js')
  out.image = await benchImage()
  const i = out.image
  if (i.skipped !== undefined) row('container image', 'n/a', '', i.skipped)
  else row('container image size', `${fmt(i.sizeMb, 0)} MB`, '', `${i.image} on ${i.base} (${fmt(i.baseSizeMb, 0)} MB of it the base); app layers ${fmt(i.sizeMb - i.baseSizeMb, 0)} MB; podman build ${fmt(i.buildS, 0)} s with the layer cache`)
}

if (only.has('governance')) {
  const { benchGovernance, formatGovernance } = await import('./governance.js')
  out.governance = await benchGovernance(quick ? { registry: 2000, ops: 100 } : {})
  for (const r of formatGovernance(out.governance)) row(...r)
  const { benchGovernanceLatency, formatGovernanceLatency } = await import('./governance.js')
  log('governance: certificate latency at 7 hub processes, an epoch carrying 100 operations')
  out.governanceLatency = await benchGovernanceLatency(quick ? { baseline: 2 } : {})
  for (const r of formatGovernanceLatency(out.governanceLatency)) row(...r)
}

load.end = loadavg()[0]
pressure.end = cpuPressure()
out.cpuPressureSomeAvg60 = pressure
out.loadAvg1m = Object.fromEntries(Object.entries(load).map(([k, v]) => [k, round(v, 2)]))
out.runtimeS = round((Date.now() - t0) / 1000, 1)
row('runtime', `${fmt(out.runtimeS, 0)} s`, '≤ 300 s', `${out.cores} cores, node ${out.node}, 1-min load ${Object.values(out.loadAvg1m).map(v => fmt(v, 1)).join(' → ')}, CPU pressure % ${Object.values(pressure).map(v => fmt(v, 0)).join(' → ')}`)

const widths = [0, 1, 2, 3].map(i => Math.max(...[['figure', 'value', 'aim', 'notes'], ...rows].map(r => String(r[i]).length)))
const line = (r) => r.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd()
console.log('\neCandle Mesh bench')
console.log(line(['figure', 'value', 'aim', 'notes']))
console.log(widths.map(w => '-'.repeat(w)).join('  '))
for (const r of rows) console.log(line(r))
if (Math.max(...Object.values(load)) > out.cores) console.log(`note: the 1-min load average reached ${fmt(Math.max(...Object.values(load)), 1)} on ${out.cores} cores (other processes included): with the CPU shared, the absolute figures are worse than the code alone would give; the ingest/raw ratio is measured interleaved and holds better.`)
for (const text of extra) console.log('\n' + (Array.isArray(text) ? text.join('\n') : text))
console.log(JSON.stringify(out))
