// Device link figures (issue 4): reports per second ONE hub process ingests from devices over one
// serial line (a socat pseudo-terminal pair: no baud-rate limit) and over MQTT (a private
// mosquitto, and the hub's embedded broker), and the hub's CPU per 1,000 reports.
//
//   node bench/devices.js [--devices 512] [--backfill 20] [--links serial,mqtt,embedded] [--window 1]
//                         [--no-catch-up] [--quick]
//
// Prints a table, then, as the last stdout line, one JSON object of figures (progress on stderr).
// Importable as `benchDevices(opts)`, which returns the same object; `formatDevices(f)` gives the
// table rows [figure, value, aim, note]. Every number is measured here; nothing is asserted.
//
// Method: a 1-hub network (createNetwork), the hub as an `ecandle daemon` process with default
// settings (entry interval 5 s, log level warn) and config.json "devices" pointing at the link;
// the devices in one `ecandle-emulate` process, each starting with --backfill unacked reports in
// flash (a fleet back from an outage), sent as the firmware rules say: --window reports in flight
// per device (default 1: stop-and-wait, as protocol version 1 firmware does). The hub acks only after the synced LevelDB write of the
// entry holding the report, so with ≥ 256 devices every entry is a full one of 256 reports.
// Rate = reports stored ÷ time, from 5 % to 95 % of them stored (GET /status every 100 ms): the
// steady state, without devices connecting at the start or the last few waiting for the entry timer.
// CPU = utime + stime of the hub process from /proc/<pid>/stat over the same window, per 1,000
// reports (for the embedded broker this includes the broker, which runs inside the hub).
import { spawn, spawnSync } from 'node:child_process'
import { generateKeyPairSync, sign, verify } from 'node:crypto'
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect, createServer } from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNetwork } from '@ecandle/daemon'
import { parseNetwork } from '@ecandle/protocol'

const BIN = fileURLToPath(new URL('../daemon/dist/src/bin/ecandle.js', import.meta.url))
const EMULATE = fileURLToPath(new URL('../packages/emulator/dist/src/bin/emulate.js', import.meta.url))
const SELF = fileURLToPath(import.meta.url)

export const defaultDevicesBenchOptions = {
  /** Devices of the hub, all on the one link. */
  devices: 512,
  /** Unacked reports each device holds at the start. */
  backfill: 20,
  /** Which links to measure: serial (socat pty), mqtt (mosquitto), embedded (aedes in the hub). */
  links: ['serial', 'mqtt', 'embedded'],
  /** Devices resend an unacked report after this long (the protocol default, D4). */
  resendMs: 5000,
  /** Reports each device keeps in flight (D4): 1, as every firmware of protocol version 1. */
  window: 1,
  /** Also run the catch-up: one device back from a day's outage over mosquitto (window 256). */
  catchUp: true,
  /** Give up on a link after this long. */
  timeoutS: 180
}

/** Report period of the emulated devices, s (backfilled periods end before now). */
const INTERVAL_S = 60
const sleep = (ms) => new Promise(resolve => setTimeout(resolve, ms))
const log = (msg) => process.stderr.write(`[bench devices] ${msg}\n`)
const round = (x, d = 0) => (typeof x === 'number' && Number.isFinite(x)) ? Math.round(x * 10 ** d) / 10 ** d : null
const have = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0
const TICK_HZ = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100

/** utime + stime of a process, ms (Linux /proc). */
function cpuMs (pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) * 1000 / TICK_HZ // fields 14 and 15 of stat(5)
}

async function freePort () {
  const s = createServer()
  await new Promise(resolve => s.listen(0, '127.0.0.1', resolve))
  const port = s.address().port
  await new Promise(resolve => s.close(resolve))
  return port
}

async function getJson (url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`)
  return await res.json()
}

function spawnLogged (args, logPath, bin = process.execPath) {
  const fd = openSync(logPath, 'a')
  const p = spawn(bin, args, { stdio: ['ignore', fd, fd] })
  closeSync(fd)
  p.exited = new Promise(resolve => p.once('exit', resolve))
  return p
}

async function stopProc (p, graceMs = 10_000) {
  if (p === undefined || p.exitCode !== null || p.signalCode !== null) return
  p.kill('SIGTERM')
  const t = setTimeout(() => p.kill('SIGKILL'), graceMs)
  await p.exited
  clearTimeout(t)
}

async function until (what, probe, timeoutMs, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(intervalMs)
  }
}

/** socat pty pair; resolves once both ends exist. */
async function startPty (dir) {
  const hub = join(dir, 'pty-hub')
  const dev = join(dir, 'pty-dev')
  const p = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${hub}`, `pty,raw,echo=0,link=${dev}`], { stdio: ['ignore', 'ignore', 'pipe'] })
  p.exited = new Promise(resolve => p.once('exit', resolve))
  await new Promise((resolve, reject) => {
    let text = ''
    p.once('exit', code => reject(new Error(`socat exited (${code}): ${text}`)))
    p.stderr.on('data', b => { text += b; if (text.includes('starting data transfer loop') && existsSync(hub) && existsSync(dev)) resolve() })
  })
  return { proc: p, hub, dev }
}

async function startMosquitto (dir) {
  const port = await freePort()
  const conf = join(dir, 'mosquitto.conf')
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n`)
  const p = spawnLogged(['-c', conf], join(dir, 'mosquitto.log'), 'mosquitto')
  await until('mosquitto to listen', async () => await new Promise(resolve => {
    if (p.exitCode !== null) { resolve(false); return }
    const c = connect(port, '127.0.0.1', () => { c.destroy(); resolve(true) })
    c.on('error', () => { c.destroy(); resolve(false) })
  }), 10_000, 50)
  return { proc: p, url: `mqtt://127.0.0.1:${port}` }
}

/** One link: a fresh network, hub and emulator; returns the figures. */
async function measureLink (kind, o) {
  const dir = await mkdtemp(join(tmpdir(), `ecandle-bench-dev-${kind}-`))
  const procs = []
  try {
    // Genesis before the first backfilled period; 1-day epochs keep agreement idle.
    const created = await createNetwork({ dir, hubs: 1, devicesPerHub: o.devices, reportIntervalS: INTERVAL_S, epochLengthS: 86_400, genesisTime: Math.floor(Date.now() / 1000) - (o.backfill + 10) * INTERVAL_S, host: '127.0.0.1' })
    const net = parseNetwork(readFileSync(created.networkPath, 'utf8'))
    const hubDir = created.hubDirs[0]
    const cfgPath = join(hubDir, 'config.json')
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'))
    cfg.emulator = null
    let linkArgs
    let note
    if (kind === 'serial') {
      const pty = await startPty(dir)
      procs.push(pty.proc)
      cfg.devices = { serial: [{ path: pty.hub }] }
      linkArgs = ['--serial', pty.dev]
      note = 'socat pty pair (no baud limit)'
    } else if (kind === 'mqtt') {
      const m = await startMosquitto(dir)
      procs.push(m.proc)
      cfg.devices = { mqtt: { url: m.url } }
      linkArgs = ['--mqtt', m.url, '--network', net.id]
      note = 'mosquitto, QoS 1, one client per device'
    } else {
      const port = await freePort()
      cfg.devices = { mqtt: { embedded: { host: '127.0.0.1', port } } }
      linkArgs = ['--mqtt', `mqtt://127.0.0.1:${port}`, '--network', net.id]
      note = 'aedes inside the hub process (its CPU counted)'
    }
    writeFileSync(cfgPath, JSON.stringify(cfg, null, 2))
    const hub = spawnLogged([BIN, 'daemon', '--data-dir', hubDir, '--log-level', 'warn'], join(hubDir, 'hub.log'))
    procs.unshift(hub)
    const url = await until('the hub API', async () => {
      if (hub.exitCode !== null) throw new Error(`hub exited ${hub.exitCode}: ${readFileSync(join(hubDir, 'hub.log'), 'utf8').slice(-2000)}`)
      try {
        const api = JSON.parse(readFileSync(join(hubDir, 'api.json'), 'utf8'))
        if (api.pid !== hub.pid) return undefined
        await getJson(`${api.url}/status`)
        return api.url
      } catch { return undefined }
    }, 60_000)
    // The hub's own background (timers, gossip heartbeats, these status polls) before any device
    // speaks: the share of the per-report figure that is not the reports.
    const idle0 = { t: performance.now(), cpu: cpuMs(hub.pid) }
    while (performance.now() - idle0.t < 3000) { await getJson(`${url}/status`); await sleep(100) }
    const idleCpuPct = (cpuMs(hub.pid) - idle0.cpu) / (performance.now() - idle0.t) * 100
    const total = o.devices * o.backfill
    log(`${kind}: ${o.devices} devices × ${o.backfill} reports = ${total}`)
    const spawnedAt = performance.now()
    const emu = spawnLogged([EMULATE, '--keys', join(hubDir, 'devices.json'), ...linkArgs, '--interval', String(INTERVAL_S), '--backfill', String(o.backfill), '--queue', String(Math.max(1000, o.backfill)), '--window', String(o.window), '--resend-ms', String(o.resendMs), '--stats-s', '5'], join(dir, 'emulate.log'))
    procs.unshift(emu)
    // Window: first stored report → all stored. Samples (time, reports, hub CPU) every 100 ms.
    let first
    let last
    let all
    const started = Date.now()
    await until(`${total} reports stored over ${kind}`, async () => {
      const s = await getJson(`${url}/status`)
      if (s.reports === 0 && Date.now() - started > 20_000) {
        const bad = (await getJson(`${url}/devices`)).find(d => d.lastError !== undefined)
        throw new Error(`${kind}: nothing stored after 20 s; ${bad === undefined ? 'no device heard (see emulate.log)' : `${bad.device}: ${bad.lastError}`}`)
      }
      const sample = { t: performance.now(), reports: s.reports, cpu: cpuMs(hub.pid) }
      // Steady state: from 5 % to 95 % stored (the start is devices connecting; the last reports
      // wait for the entry timer, as fewer than 256 are left to fill an entry).
      if (first === undefined && s.reports >= 0.05 * total) first = sample
      if (last === undefined && s.reports >= 0.95 * total) last = sample
      // Every report stored (the last ones may wait for the entry timer).
      if (s.reports >= total) { all = sample; return true }
      return false
    }, o.timeoutS * 1000, 100)
    const reports = last.reports - first.reports
    const seconds = (last.t - first.t) / 1000
    const devices = await getJson(`${url}/devices`)
    const linkStats = (await getJson(`${url}/status`)).deviceLinks ?? {}
    await stopProc(emu) // prints its final counters
    let sent
    try { sent = JSON.parse(readFileSync(join(dir, 'emulate.log'), 'utf8').trim().split('\n').filter(l => l.startsWith('{')).pop()).sent } catch {}
    const session = kind === 'serial' ? linkStats.serial?.[0]?.session : linkStats[kind === 'mqtt' ? 'mqtt' : 'mqtt-embedded']
    return {
      link: kind,
      note,
      devices: o.devices,
      reports: total,
      measured: reports,
      seconds: round(seconds, 2),
      window: o.window,
      /** From the emulator's start (its devices connect and say hello) to every report stored. */
      allStoredS: round((all.t - spawnedAt) / 1000, 1),
      reportsPerSec: round(reports / seconds),
      hubCpuMsPer1000Reports: round((last.cpu - first.cpu) / reports * 1000, 1),
      hubCpuPct: round((last.cpu - first.cpu) / (seconds * 1000) * 100),
      hubIdleCpuPct: round(idleCpuPct, 1),
      devicesSeen: devices.length,
      // Sends beyond one per report: resends after resendMs without an ack. Over a pty they are
      // mostly frames the kernel dropped while the hub read late (no flow control, as on a real UART).
      resends: sent === undefined ? null : sent - all.reports,
      reportsReceivedByHub: session?.reports ?? null
    }
  } finally {
    for (const p of procs) await stopProc(p)
    if (process.env.BENCH_DEVICES_KEEP === '1') log(`${kind}: kept ${dir}`)
    else await rm(dir, { recursive: true, force: true })
  }
}

export async function benchDevices (opts = {}) {
  const o = { ...defaultDevicesBenchOptions, ...opts }
  const out = { loadAvg1m: round(loadavg()[0], 2), devices: o.devices, backfill: o.backfill, resendMs: o.resendMs }
  const raw = [rawVerifyCpuUs()]
  for (const kind of o.links) {
    const tool = kind === 'serial' ? 'socat' : kind === 'mqtt' ? 'mosquitto' : undefined
    if (tool !== undefined && !have(tool)) {
      log(`${kind}: skipped, ${tool} is not installed (apt-get install -y ${tool})`)
      out[kind] = { link: kind, skipped: `${tool} not installed` }
      continue
    }
    out[kind] = await measureLink(kind, o)
    raw.push(rawVerifyCpuUs())
    log(`${kind}: ${out[kind].reportsPerSec} reports/s, hub CPU ${out[kind].hubCpuMsPer1000Reports} ms per 1,000 reports`)
  }
  if (o.catchUp) {
    if (!have('mosquitto')) out.catchUp = { skipped: 'mosquitto not installed' }
    else {
      out.catchUp = await measureLink('mqtt', { ...o, devices: 1, backfill: 8640, window: 256 })
      log(`catch-up: 8,640 reports of one device stored ${out.catchUp.allStoredS} s after it started`)
    }
  }
  // The median of the raw samples taken between the runs: the same machine conditions, roughly.
  out.rawVerifyCpuUs = round(raw.sort((a, b) => a - b)[Math.floor(raw.length / 2)], 1)
  return out
}

const fmt = (x, d = 0) => x === null || x === undefined ? 'n/a' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })

export function formatDevices (f) {
  const rows = []
  for (const kind of ['serial', 'mqtt', 'embedded']) {
    const r = f[kind]
    if (r === undefined) continue
    if (r.skipped !== undefined) { rows.push([`device link ${kind}`, 'skipped', '', r.skipped]); continue }
    rows.push([`device link ${kind}: reports/s into one hub`, `${fmt(r.reportsPerSec)} /s`, '', `${fmt(r.measured)} of ${fmt(r.reports)} reports from ${r.devices} devices (window ${r.window}) in ${fmt(r.seconds, 1)} s; all stored ${fmt(r.allStoredS, 1)} s after the devices started; ${r.note}`])
    rows.push([`device link ${kind}: hub CPU per 1,000 reports`, `${fmt(r.hubCpuMsPer1000Reports, 1)} ms`, kind === 'mqtt' ? '≤ 150 ms' : '', `= ${fmt(r.hubCpuMsPer1000Reports / f.rawVerifyCpuUs, 2)}× one raw verify (${fmt(f.rawVerifyCpuUs, 1)} µs CPU, this run); hub process at ${fmt(r.hubCpuPct)} % of one core (idle before: ${fmt(r.hubIdleCpuPct, 1)} %); ${fmt(r.resends)} resends (resend after ${f.resendMs} ms)`])
  }
  const c = f.catchUp
  if (c !== undefined && c.skipped === undefined) {
    rows.push(['device catch-up: 1 device, 8,640 reports, window 256 (mosquitto)', `${fmt(c.allStoredS, 1)} s`, '< 120 s', `until all stored, from the emulator's start; entry interval 5 s; hub CPU ${fmt(c.hubCpuMsPer1000Reports, 1)} ms per 1,000 reports; window 1 would take 8,640 × 5 s = 12 h`])
  }
  return rows
}

/** CPU time (µs) of one raw Ed25519 verify on this machine now: the per-report floor the hub CPU is compared with. */
function rawVerifyCpuUs (n = 3000) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const msg = Buffer.alloc(160, 1)
  const sig = sign(null, msg, privateKey)
  const c0 = process.cpuUsage()
  for (let i = 0; i < n; i++) if (!verify(null, msg, publicKey, sig)) throw new Error('raw verify failed')
  const c = process.cpuUsage(c0)
  return (c.user + c.system) / n
}

function printTable (rows) {
  const head = ['figure', 'value', 'aim', 'note']
  const w = head.map((h, i) => Math.max(h.length, ...rows.map(r => String(r[i]).length)))
  const line = (r) => r.map((c, i) => String(c).padEnd(w[i])).join('  ').trimEnd()
  process.stdout.write([line(head), line(w.map(n => '-'.repeat(n))), ...rows.map(line)].join('\n') + '\n')
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === SELF) {
  const arg = (name) => { const i = process.argv.indexOf(`--${name}`); return i < 0 ? undefined : process.argv[i + 1] }
  const quick = process.argv.includes('--quick')
  const opts = {
    devices: Number(arg('devices') ?? (quick ? 256 : defaultDevicesBenchOptions.devices)),
    backfill: Number(arg('backfill') ?? (quick ? 8 : defaultDevicesBenchOptions.backfill)),
    links: (arg('links') ?? defaultDevicesBenchOptions.links.join(',')).split(','),
    window: Number(arg('window') ?? defaultDevicesBenchOptions.window),
    catchUp: !process.argv.includes('--no-catch-up')
  }
  const f = await benchDevices(opts)
  printTable(formatDevices(f))
  process.stdout.write(JSON.stringify(f) + '\n')
}
