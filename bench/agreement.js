// Agreement figures (issue 2): certificate latency on every hub for 4, 7 and 10 hub processes,
// tally time for a 100,000-report segment (cold and warm) with a Merkle proof build + verify,
// and certificate size per validator count.
//
//   node bench/agreement.js [--sizes 4,7,10] [--epochs 10] [--epoch-length 4] [--grace 1] [--quick]
//
// Prints a table on stderr/stdout and, as the last stdout line, one JSON object of figures.
// Imported by bench/run.js as `benchAgreement(opts)`, which returns the same object.
// Every number is measured here; nothing is asserted.
import { spawn } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import http from 'node:http'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { ConsensusStateRepository, createNetwork } from '@ecandle/daemon'
import { Store } from '@ecandle/store'
import { epochOf, epochStartMs, epochVoteAtMs, parseNetwork } from '@ecandle/protocol'
import { genesisState, proveAccount, tally, verifyProof } from '@ecandle/tally'
import { sseParser } from './lib/sse.js'

const BIN = fileURLToPath(new URL('../daemon/dist/src/bin/ecandle.js', import.meta.url))
const SELF = fileURLToPath(import.meta.url)

export const defaultAgreementBenchOptions = {
  /** Hub counts to run, one network (fresh processes and data dirs) each. */
  sizes: [4, 7, 10],
  /** Measured epochs per size (after the warm-up). */
  epochs: 9,
  /** Epochs skipped after every hub is connected and streamed (with genesis still ahead: epoch 0). */
  warmupEpochs: 1,
  epochLengthS: 4,
  gracePeriodS: 1,
  devicesPerHub: 3,
  reportIntervalS: 2,
  entryIntervalMs: 1000,
  /**
   * Genesis is set this far ahead of network creation: base + perHub × hubs seconds. It must cover
   * process start-up AND connection: a hub that starts epoch 0 before gossip reaches its peers can
   * stall for good (see README-agreement.md, "start-up stall").
   */
  startupBaseS: 6,
  startupPerHubS: 1.6,
  /** A size is abandoned when no hub produced a certificate for this long (past the first vote time). */
  stallMs: 20_000,
  /** A size is abandoned when its hubs are not all connected to each other after this long. */
  connectTimeoutMs: 45_000,
  /** Tally figure: a segment of `tallyReports` reports from `tallyDevices` devices over `tallyHubs` hubs. */
  tallyReports: 100_000,
  tallyDevices: 1000,
  tallyHubs: 4,
  tallyWarmRuns: 7,
  /** Keep the testnet dirs (hub.log etc.) instead of deleting them. */
  keep: false,
  /** Progress lines (stderr). */
  log: (s) => process.stderr.write(`[agreement] ${s}\n`)
}

const sleep = (ms) => new Promise(resolve => setTimeout(resolve, ms))
const running = (c) => c.exitCode === null && c.signalCode === null

function quantile (xs, q) {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  // nearest rank
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]
}
const median = (xs) => quantile(xs, 0.5)
const round1 = (x) => x === null || x === undefined ? null : Math.round(x * 10) / 10
const round3 = (x) => x === null || x === undefined ? null : Math.round(x * 1000) / 1000

// ---------------------------------------------------------------------------------------------
// Tally figure (pure, in a worker thread so that "cold" is a fresh V8 isolate even under run.js)
// ---------------------------------------------------------------------------------------------

function hex (n, len) { return n.toString(16).padStart(len, '0') }

/** A registry of `nDevices` over `nHubs` and a segment of `nReports` in log order, as loadSegment yields it. */
function buildTallyInput ({ tallyReports: nReports, tallyDevices: nDevices, tallyHubs: nHubs }) {
  const hubs = Array.from({ length: nHubs }, (_, h) => `12D3KooWBenchHub${String(h).padStart(3, '0')}`)
  const capexAccounts = Array.from({ length: 50 }, (_, i) => hex(0xca9e0000 + i, 64))
  const opexAccounts = hubs.map((_, h) => hex(0x09e00000 + h, 64))
  const devices = new Map()
  for (let d = 0; d < nDevices; d++) {
    const hub = d % nHubs
    const id = `h${hub + 1}-d${String(d).padStart(4, '0')}`
    devices.set(id, { id, hub: hubs[hub], capex: capexAccounts[d % capexAccounts.length], opex: opexAccounts[hub], ratedWhPerDay: 100 + 25 * (d % 5) })
  }
  const ids = [...devices.keys()]
  const t0 = 1_760_000_000
  // Each hub's log: entries of 50 reports; each device reports every 60 s for nReports/nDevices periods.
  const perHub = hubs.map(() => [])
  const counters = new Map()
  for (let i = 0; i < nReports; i++) {
    const id = ids[i % nDevices]
    const dev = devices.get(id)
    const c = (counters.get(id) ?? 0) + 1
    counters.set(id, c)
    const start = t0 + 60 * (c - 1)
    // Plausible bound for 60 s at 100 Wh/day: 100·2000·60/86400 ≈ 138 mWh; stay below it.
    const energy = 20 + ((i * 7919) % 100)
    perHub[hubs.indexOf(dev.hub)].push({ reportId: hex(i, 64), device: id, counter: c, periodStart: start, periodEnd: start + 60, energyMwh: energy, solarMwh: energy + 5, litS: 30 })
  }
  const segment = []
  perHub.forEach((reports, h) => {
    reports.forEach((r, k) => segment.push({ hub: hubs[h], seq: 1 + Math.floor(k / 50), index: k % 50, ...r }))
  })
  return {
    epoch: 0,
    // A cap that some devices reach: ~100 reports × ~70 mWh ≈ 7,000 mWh per device.
    params: { emissionPerEpoch: 1_000_000_000n, capexBps: 6000, deviceCapMwhPerEpoch: 6500n },
    devices,
    segment,
    prev: genesisState(),
    equivocated: new Set()
  }
}

function runTallyFigure (o) {
  const input = buildTallyInput(o)
  const ms = (fn) => { const t = process.hrtime.bigint(); const r = fn(); return [Number(process.hrtime.bigint() - t) / 1e6, r] }
  const [coldMs, first] = ms(() => tally(input))
  const warm = []
  let root = first.root
  for (let i = 0; i < o.tallyWarmRuns; i++) {
    const [t, r] = ms(() => tally(input))
    if (r.root !== root) throw new Error('tally is not deterministic across runs')
    warm.push(t)
  }
  // Shuffled input must give the same root (and costs the sort): one timed run.
  const shuffled = [...input.segment]
  for (let i = shuffled.length - 1; i > 0; i--) { const j = (i * 2654435761) % (i + 1); [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]] }
  const [shuffledMs, rs] = ms(() => tally({ ...input, segment: shuffled }))
  if (rs.root !== root) throw new Error('tally root depends on segment order')

  // Proof of one account. proveAccount memoises the tree per result object: a shallow copy of the
  // result is an unseen object, so proveAccount on it pays for leaf encoding + sort + tree (what a
  // hub pays once per epoch when it serves proofs from a tally result), while proving again from the
  // same object only extracts the path.
  const account = first.accounts[Math.floor(first.accounts.length / 2)].account
  const build = []; const extract = []; const verify = []
  let proof
  for (let i = 0; i < 25; i++) {
    const copy = { ...first }
    const [tb, p] = ms(() => proveAccount(copy, account))
    build.push(tb)
    const [te] = ms(() => proveAccount(copy, account))
    extract.push(te)
    const [tv, ok] = ms(() => verifyProof(p, root))
    if (!ok) throw new Error('proof does not verify')
    verify.push(tv)
    proof = p
  }
  const statuses = {}
  for (const s of first.statuses) { const k = s.status === 'counted' ? (s.partial ? 'partial' : 'counted') : s.reason; statuses[k] = (statuses[k] ?? 0) + 1 }
  const proofJsonBytes = Buffer.byteLength(JSON.stringify({ leaf: Buffer.from(proof.leaf).toString('hex'), path: proof.path, root: proof.root }))
  return {
    reports: input.segment.length,
    devices: input.devices.size,
    hubs: o.tallyHubs,
    accounts: first.accounts.length,
    leaves: first.accounts.length + first.devices.length + 1,
    statuses,
    coldMs: round1(coldMs),
    warmMedianMs: round1(median(warm)),
    warmMinMs: round1(Math.min(...warm)),
    warmMaxMs: round1(Math.max(...warm)),
    shuffledMs: round1(shuffledMs),
    proof: {
      account,
      pathLength: proof.path.length,
      jsonBytes: proofJsonBytes,
      firstBuildMs: round3(build[0]),
      buildMedianMs: round3(median(build)),
      extractMedianMs: round3(median(extract)),
      verifyFirstMs: round3(verify[0]),
      verifyMedianMs: round3(median(verify))
    }
  }
}

async function tallyFigureInWorker (o) {
  const { log, ...plain } = o
  return await new Promise((resolve, reject) => {
    const w = new Worker(SELF, { workerData: { agreementTallyBench: plain } })
    w.once('message', resolve)
    w.once('error', reject)
    w.once('exit', (code) => { if (code !== 0) reject(new Error(`tally worker exited with ${code}`)) })
  })
}

if (!isMainThread && workerData?.agreementTallyBench !== undefined) {
  parentPort.postMessage(runTallyFigure(workerData.agreementTallyBench))
}

// ---------------------------------------------------------------------------------------------
// Certificate latency: real hub processes on 127.0.0.1
// ---------------------------------------------------------------------------------------------

/** Reads hub i's /events stream; calls onCert(event, arrivalMs) for each `certificate` event. */
function subscribeCertificates (url, onCert, streams) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}/events`, (res) => {
      if (res.statusCode !== 200) { reject(new Error(`${url}/events: HTTP ${res.statusCode}`)); return }
      res.setEncoding('utf8')
      res.on('data', sseParser((event, data, at) => { if (event === 'certificate') onCert(JSON.parse(data), at) }))
      resolve()
    })
    req.on('error', (err) => { if (!req.destroyed) reject(err) })
    streams.push(req)
  })
}

async function getJson (url, timeoutMs = 5000) {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`)
  return await res.json()
}

/** Per hub log: when each epoch's instance started and was decided (pino JSON lines, `time` in ms). */
export function parseHubLog (path) {
  const started = new Map(); const decided = new Map(); const invalid = []; const warnings = []
  let text = ''
  try { text = readFileSync(path, 'utf8') } catch { return { started, decided, invalid, warnings } }
  for (const line of text.split('\n')) {
    if (line === '' || line[0] !== '{') continue
    let j
    try { j = JSON.parse(line) } catch { continue }
    if (j.msg === 'stopping') break
    if (j.msg === 'agreement started') started.set(j.epoch, { time: j.time, restored: j.restored })
    else if (j.msg === 'epoch decided') decided.set(j.epoch, { time: j.time, round: j.round, signers: j.signers })
    else if (j.msg === 'proposal not valid here') invalid.push({ epoch: j.epoch, reason: j.reason, time: j.time })
    else if (j.level >= 40 && j.component !== 'emulator') warnings.push(j.msg + (j.err ? `: ${String(j.err).split('\n')[0]}` : ''))
  }
  return { started, decided, invalid, warnings }
}

async function runSize (hubs, o) {
  const dir = await mkdtemp(join(tmpdir(), `ecandle-bench-agreement-${hubs}-`))
  const t0 = Date.now()
  const genesisTime = Math.ceil((t0 / 1000) + o.startupBaseS + o.startupPerHubS * hubs)
  const created = await createNetwork({
    dir, hubs, devicesPerHub: o.devicesPerHub, epochLengthS: o.epochLengthS, gracePeriodS: o.gracePeriodS,
    reportIntervalS: o.reportIntervalS, entryIntervalMs: o.entryIntervalMs, genesisTime
  })
  const net = parseNetwork(readFileSync(created.networkPath, 'utf8'))
  const children = created.hubDirs.map(d => {
    const fd = openSync(join(d, 'hub.log'), 'a')
    const child = spawn(process.execPath, [BIN, 'daemon', '--data-dir', d, '--log-level', 'info'], { stdio: ['ignore', fd, fd] })
    closeSync(fd)
    child.exited = new Promise(resolve => child.once('exit', resolve))
    return child
  })
  const killAll = () => { for (const c of children) if (running(c)) c.kill('SIGKILL') }
  process.once('exit', killAll)
  const streams = []
  /** epoch -> hub index -> { at, signers } */
  const arrivals = new Map()
  let lastCertAt = 0
  try {
    const urls = await Promise.all(created.hubDirs.map(async (d, i) => {
      const f = join(d, 'api.json')
      const deadline = Date.now() + 60_000
      while (Date.now() < deadline) {
        if (!running(children[i])) throw new Error(`hub-${i + 1} exited (${children[i].exitCode}); see ${join(d, 'hub.log')}`)
        if (existsSync(f)) {
          try {
            const api = JSON.parse(await readFile(f, 'utf8'))
            if (api.pid === children[i].pid) return api.url
          } catch {}
        }
        await sleep(100)
      }
      throw new Error(`hub-${i + 1}: no API after 60 s`)
    }))
    const apiUpMs = Date.now() - t0
    await Promise.all(urls.map((u, i) => subscribeCertificates(u, (ev, at) => {
      let m = arrivals.get(ev.epoch)
      if (m === undefined) arrivals.set(ev.epoch, m = new Map())
      if (!m.has(i)) m.set(i, { at, signers: ev.signers.length })
      lastCertAt = Math.max(lastCertAt, at)
    }, streams)))
    // Every hub connected to every other.
    const deadline = Date.now() + o.connectTimeoutMs
    let peers = []
    while (Date.now() < deadline) {
      peers = await Promise.all(urls.map(async u => (await getJson(`${u}/status`).catch(() => ({ peers: -1 }))).peers))
      if (peers.every(p => p >= hubs - 1)) break
      await sleep(200)
    }
    const readyAt = Date.now()
    const connectedMs = readyAt - t0
    if (!peers.every(p => p >= hubs - 1)) {
      o.log(`${hubs} hubs: not fully connected after ${o.connectTimeoutMs / 1000} s (peers ${peers.join(',')}); giving up this size`)
      throw Object.assign(new Error('not connected'), { notConnected: peers })
    }
    const first = Math.max(0, epochOf(net, readyAt) + 1) + o.warmupEpochs
    const last = first + o.epochs - 1
    const genesisLeadS = (genesisTime * 1000 - readyAt) / 1000
    o.log(`${hubs} hubs: APIs up after ${(apiUpMs / 1000).toFixed(1)} s, all connected after ${(connectedMs / 1000).toFixed(1)} s (genesis ${genesisLeadS >= 0 ? `${genesisLeadS.toFixed(1)} s later` : `${(-genesisLeadS).toFixed(1)} s earlier`}); measuring epochs ${first}..${last}`)
    // Wait until every hub has a certificate of `last`, or give up 15 s after its vote time.
    const giveUp = epochVoteAtMs(net, last) + 15_000
    let lastProgress = -1
    const loads = []
    let stalled = false
    let cpuA
    while (Date.now() < giveUp) {
      if (cpuA === undefined && Date.now() >= epochStartMs(net, first)) cpuA = cpuSample(children)
      if (Date.now() - Math.max(lastCertAt, epochVoteAtMs(net, Math.max(0, first - o.warmupEpochs))) > o.stallMs) {
        stalled = true
        o.log(`${hubs} hubs: no certificate on any hub for ${o.stallMs / 1000} s: stalled; giving up this size`)
        break
      }
      if (Date.now() >= epochStartMs(net, first)) loads.push(loadavg()[0])
      if ((arrivals.get(last)?.size ?? 0) >= hubs) break
      const done = [...arrivals.keys()].filter(e => arrivals.get(e).size >= hubs).reduce((a, b) => Math.max(a, b), -1)
      if (done !== lastProgress && done >= first) { lastProgress = done; o.log(`${hubs} hubs: epoch ${done} certified on every hub`) }
      for (const c of children) if (!running(c)) throw new Error(`a hub exited during the run; see ${dir}`)
      await sleep(250)
    }
    const cpu = cpuWindow(cpuA, cpuSample(children))
    // Certificates as stored (hub-1's /epochs), for sizes and rounds.
    const stored = await getJson(`${urls[0]}/epochs?from=${first}&limit=${o.epochs}`).catch(() => [])
    const status = await Promise.all(urls.map(u => getJson(`${u}/status`).catch(() => undefined)))
    // Stop the hubs before reading their logs (flushed on exit).
    for (const s of streams) s.destroy()
    for (const c of children) if (running(c)) c.kill('SIGTERM')
    const kill = setTimeout(killAll, 10_000)
    await Promise.all(children.map(c => c.exited))
    clearTimeout(kill)
    const logs = created.hubDirs.map(d => parseHubLog(join(d, 'hub.log')))
    const consensus = stalled ? await consensusStates(created.hubDirs, net) : undefined
    const startedBeforeReady = genesisLeadS + o.epochLengthS + o.gracePeriodS < 0
    return analyse({ cpu, stalled, consensus, startedBeforeReady,  hubs, net, first, last, arrivals, stored, logs, status, apiUpMs, connectedMs, dir, loads })
  } finally {
    for (const s of streams) s.destroy()
    killAll()
    await Promise.all(children.map(c => c.exited))
    process.removeListener('exit', killAll)
    if (!o.keep) await rm(dir, { recursive: true, force: true })
    else o.log(`kept ${dir}`)
  }
}

/** CPU seconds used so far by a process (utime + stime; Linux clock ticks of 1/100 s). */
function procCpuS (pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ')
    return (Number(rest[11]) + Number(rest[12])) / 100
  } catch { return NaN }
}

/** Machine-wide CPU time counters: { busy, total } in ticks (all CPUs). */
function machineCpu () {
  try {
    const v = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0)
    return { busy: total - v[3] - v[4], total }
  } catch { return { busy: NaN, total: NaN } }
}

/** CPU use over a window: hub processes, this process, and everything else on the machine, in cores. */
function cpuSample (children) {
  return { at: Date.now(), hubs: children.map(c => procCpuS(c.pid)), self: process.cpuUsage(), machine: machineCpu() }
}
function cpuWindow (a, b) {
  if (a === undefined || b === undefined) return null
  const wallS = (b.at - a.at) / 1000
  const perHub = b.hubs.map((x, i) => (x - a.hubs[i]) / wallS)
  const hubs = perHub.reduce((x, y) => x + y, 0)
  const self = ((b.self.user - a.self.user) + (b.self.system - a.self.system)) / 1e6 / wallS
  const machineBusy = (b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total) * availableParallelism()
  return { wallS: round1(wallS), hubsCores: round3(hubs), perHubCoresMax: round3(Math.max(...perHub)), benchCores: round3(self), machineBusyCores: round3(machineBusy), otherCores: round3(machineBusy - hubs - self) }
}

/** After a stall: each hub's persisted Tendermint state (epoch, round, step, own messages). */
async function consensusStates (hubDirs, net) {
  const out = []
  for (const d of hubDirs) {
    try {
      const st = await Store.open(join(d, 'db'), net.id)
      try {
        const j = await new ConsensusStateRepository(st).load()
        out.push(j === undefined ? null : { epoch: j.epoch, round: j.round, step: j.step, sent: j.sent.map(m => `${m.type}@${m.round}:${m.valueId === null ? 'nil' : String(m.valueId).slice(0, 8)}`) })
      } finally { await st.close() }
    } catch (err) { out.push({ error: String(err?.message ?? err) }) }
  }
  return out
}

function analyse ({ cpu, stalled, consensus, startedBeforeReady,  hubs, net, first, last, arrivals, stored, logs, status, apiUpMs, connectedMs, dir, loads }) {
  const perEpoch = []
  const latencies = []
  const missing = []
  for (let e = first; e <= last; e++) {
    const voteAt = epochVoteAtMs(net, e)
    const m = arrivals.get(e) ?? new Map()
    const cert = stored.find(s => s.epoch === e)
    const starts = logs.map(l => l.started.get(e)?.time).filter(x => x !== undefined)
    const decidedLog = logs.map(l => l.decided.get(e)).filter(x => x !== undefined)
    // The hub whose certificate came last: how late it started its instance, and how long it then took.
    let lastHub = null
    for (const [i, x] of m) if (lastHub === null || x.at > m.get(lastHub).at) lastHub = i
    const lh = lastHub === null ? undefined : logs[lastHub]
    const lhStart = lh?.started.get(e)?.time
    const lhDecide = lh?.decided.get(e)?.time
    const row = {
      epoch: e,
      lastHub: lastHub === null ? null : lastHub + 1,
      lastHubStartLagMs: lhStart === undefined ? null : lhStart - voteAt,
      lastHubStartToDecideMs: lhStart === undefined || lhDecide === undefined ? null : lhDecide - lhStart,
      /** From the hub's decide log line to the SSE event arriving here. */
      lastHubSseMs: lhDecide === undefined || lastHub === null ? null : m.get(lastHub).at - lhDecide,
      hubsWithCert: m.size,
      // Every hub: latency = last arrival − voteAt. First hub: the fastest decision.
      firstMs: m.size === 0 ? null : Math.min(...[...m.values()].map(x => x.at)) - voteAt,
      allMs: m.size < hubs ? null : Math.max(...[...m.values()].map(x => x.at)) - voteAt,
      // From the hubs' own logs: how late the instance started after voteAt (tick + proposal tally).
      startLagMinMs: starts.length === 0 ? null : Math.min(...starts) - voteAt,
      startLagMaxMs: starts.length === 0 ? null : Math.max(...starts) - voteAt,
      decideMaxMs: decidedLog.length === 0 ? null : Math.max(...decidedLog.map(d => d.time)) - voteAt,
      round: cert?.round ?? null,
      maxRoundSeen: decidedLog.length === 0 ? null : Math.max(...decidedLog.map(d => d.round)),
      certBytes: cert === undefined ? null : Buffer.from(cert.certificate, 'base64').length,
      certSigners: cert?.signers.length ?? null,
      countedMwh: cert?.totals.countedMwh ?? null
    }
    if (row.allMs === null) missing.push(e)
    else latencies.push(row.allMs)
    perEpoch.push(row)
  }
  const invalid = logs.flatMap((l, i) => l.invalid.filter(x => x.epoch >= first && x.epoch <= last).map(x => ({ hub: i + 1, ...x })))
  const warnings = [...new Set(logs.flatMap(l => l.warnings))].slice(0, 10)
  const certSizes = perEpoch.map(r => r.certBytes).filter(x => x !== null)
  const signers = perEpoch.map(r => r.certSigners).filter(x => x !== null)
  return {
    hubs,
    stalled,
    /** True when epoch 0's vote time came before every hub was connected (the start-up stall risk). */
    startedBeforeReady,
    consensus,
    epochsMeasured: latencies.length,
    epochsMissing: missing,
    firstEpoch: first,
    lastEpoch: last,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    minMs: latencies.length ? Math.min(...latencies) : null,
    maxMs: latencies.length ? Math.max(...latencies) : null,
    firstHubP50Ms: median(perEpoch.map(r => r.firstMs).filter(x => x !== null)),
    startLagMaxP50Ms: median(perEpoch.map(r => r.startLagMaxMs).filter(x => x !== null)),
    lastHubStartLagP50Ms: median(perEpoch.map(r => r.lastHubStartLagMs).filter(x => x !== null)),
    lastHubStartToDecideP50Ms: median(perEpoch.map(r => r.lastHubStartToDecideMs).filter(x => x !== null)),
    lastHubSseP50Ms: median(perEpoch.map(r => r.lastHubSseMs).filter(x => x !== null)),
    roundsAboveZero: perEpoch.filter(r => (r.maxRoundSeen ?? 0) > 0).length,
    invalidProposals: invalid.length,
    invalidReasons: [...new Set(invalid.map(x => x.reason))].slice(0, 5),
    warnings,
    certificate: {
      bytesMin: certSizes.length ? Math.min(...certSizes) : null,
      bytesMedian: median(certSizes),
      bytesMax: certSizes.length ? Math.max(...certSizes) : null,
      signersMin: signers.length ? Math.min(...signers) : null,
      signersMax: signers.length ? Math.max(...signers) : null
    },
    reportsStored: status.map(s => s?.reports ?? null),
    apiUpMs,
    connectedMs,
    /** 1-minute load average while measuring (the machine is shared: hubs, this process, anything else). */
    cpu,
    loadAvgMean: round1(loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length)),
    perEpoch,
    dir
  }
}

// ---------------------------------------------------------------------------------------------

export async function benchAgreement (opts = {}) {
  const o = { ...defaultAgreementBenchOptions, ...opts }
  const started = Date.now()
  o.log(`tally: ${o.tallyReports} reports, ${o.tallyDevices} devices, ${o.tallyHubs} hubs (worker thread)`)
  const tallyFig = await tallyFigureInWorker(o)
  o.log(`tally: cold ${tallyFig.coldMs} ms, warm median ${tallyFig.warmMedianMs} ms`)
  const latency = []
  for (const hubs of o.sizes) {
    const t = Date.now()
    const r = await runSize(hubs, o).catch((err) => {
      if (err.notConnected === undefined) throw err
      return { hubs, notConnected: err.notConnected, stalled: true, epochsMeasured: 0, epochsMissing: [], p50Ms: null, p99Ms: null, minMs: null, maxMs: null, certificate: {}, perEpoch: [], warnings: [] }
    })
    r.wallS = round1((Date.now() - t) / 1000)
    o.log(`${hubs} hubs: p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms over ${r.epochsMeasured} epochs (${r.wallS} s)`)
    latency.push(r)
  }
  return {
    config: {
      sizes: o.sizes, epochs: o.epochs, warmupEpochs: o.warmupEpochs, epochLengthS: o.epochLengthS, gracePeriodS: o.gracePeriodS,
      devicesPerHub: o.devicesPerHub, reportIntervalS: o.reportIntervalS, entryIntervalMs: o.entryIntervalMs, cpus: availableParallelism(), loadAvgBefore: round1(loadavg()[0])
    },
    certificateLatency: Object.fromEntries(latency.map(r => [r.hubs, {
      stalled: r.stalled, notConnected: r.notConnected, consensusAtStall: r.consensus, startedBeforeReady: r.startedBeforeReady,
      p50Ms: r.p50Ms, p99Ms: r.p99Ms, minMs: r.minMs, maxMs: r.maxMs, epochs: r.epochsMeasured, missing: r.epochsMissing,
      firstHubP50Ms: r.firstHubP50Ms, startLagMaxP50Ms: r.startLagMaxP50Ms,
      lastHub: { startLagP50Ms: r.lastHubStartLagP50Ms, startToDecideP50Ms: r.lastHubStartToDecideP50Ms, decideToSseP50Ms: r.lastHubSseP50Ms }, roundsAboveZero: r.roundsAboveZero,
      invalidProposals: r.invalidProposals, invalidReasons: r.invalidReasons, loadAvg: r.loadAvgMean, cpu: r.cpu
    }])),
    certificateBytes: Object.fromEntries(latency.map(r => [r.hubs, r.certificate])),
    tally: tallyFig,
    detail: latency.map(({ dir, ...r }) => r),
    runtimeS: round1((Date.now() - started) / 1000)
  }
}

export function formatAgreement (f) {
  const lines = []
  lines.push(`Certificate latency: epochVoteAtMs(E) → certificate SSE event on every hub (epoch ${f.config.epochLengthS} s, grace ${f.config.gracePeriodS} s, ${f.config.devicesPerHub} devices/hub, ${f.config.cpus} CPUs)`)
  lines.push('hubs  epochs   p50 ms   p99 ms   min ms   max ms  1st hub p50  start-lag p50  rounds>0  invalid  load  cert bytes (signers)')
  for (const [hubs, l] of Object.entries(f.certificateLatency)) {
    const c = f.certificateBytes[hubs]
    const pad = (x, n) => String(x ?? '-').padStart(n)
    lines.push(`${pad(hubs, 4)}  ${pad(l.epochs, 6)}  ${pad(l.p50Ms, 7)}  ${pad(l.p99Ms, 7)}  ${pad(l.minMs, 7)}  ${pad(l.maxMs, 7)}  ${pad(l.firstHubP50Ms, 11)}  ${pad(l.startLagMaxP50Ms, 13)}  ${pad(l.roundsAboveZero, 8)}  ${pad(l.invalidProposals, 7)}  ${pad(l.loadAvg, 4)}  ${c.bytesMedian ?? '-'}${c.bytesMin !== c.bytesMax ? ` (${c.bytesMin}–${c.bytesMax})` : ''} (${c.signersMin === c.signersMax ? c.signersMin : `${c.signersMin}–${c.signersMax}`})${l.missing.length ? `  missing epochs ${l.missing.join(',')}` : ''}${l.stalled ? '  STALLED' : ''}${l.notConnected ? `  NOT CONNECTED (peers ${l.notConnected.join(',')})` : ''}`)
    if (l.cpu) lines.push(`      CPU while measuring (cores of ${f.config.cpus}): hubs ${l.cpu.hubsCores} (busiest hub ${l.cpu.perHubCoresMax}), bench ${l.cpu.benchCores}, other processes ${l.cpu.otherCores}, machine busy ${l.cpu.machineBusyCores}`)
    if (l.stalled) lines.push(`      consensus state per hub: ${JSON.stringify(l.consensusAtStall)}`)
  }
  const t = f.tally
  lines.push('')
  lines.push(`Tally of ${t.reports} reports (${t.devices} devices, ${t.hubs} hubs, ${t.accounts} accounts, ${t.leaves} leaves): cold ${t.coldMs} ms, warm median ${t.warmMedianMs} ms (min ${t.warmMinMs}, max ${t.warmMaxMs}), shuffled input ${t.shuffledMs} ms`)
  lines.push(`  statuses: ${Object.entries(t.statuses).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  lines.push(`Account proof: tree build + path ${t.proof.buildMedianMs} ms (first ${t.proof.firstBuildMs} ms), path from memoised tree ${t.proof.extractMedianMs} ms, verify ${t.proof.verifyMedianMs} ms (first ${t.proof.verifyFirstMs} ms); path ${t.proof.pathLength} steps, ${t.proof.jsonBytes} bytes as JSON`)
  lines.push(`Runtime ${f.runtimeS} s`)
  return lines.join('\n')
}

function parseArgs (argv) {
  const o = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const v = () => argv[++i]
    if (a === '--sizes') o.sizes = v().split(',').map(Number)
    else if (a === '--epochs') o.epochs = Number(v())
    else if (a === '--epoch-length') o.epochLengthS = Number(v())
    else if (a === '--grace') o.gracePeriodS = Number(v())
    else if (a === '--devices-per-hub') o.devicesPerHub = Number(v())
    else if (a === '--keep') o.keep = true
    else if (a === '--quick') { o.sizes = [4]; o.epochs = 3; o.tallyReports = 10_000; o.tallyDevices = 100 }
    else throw new Error(`unknown option ${a}`)
  }
  return o
}

if (isMainThread && process.argv[1] !== undefined && resolve(process.argv[1]) === SELF) {
  const f = await benchAgreement(parseArgs(process.argv.slice(2)))
  process.stdout.write(formatAgreement(f) + '\n')
  for (const d of f.detail) {
    process.stdout.write(`\n${d.hubs} hubs, per epoch (ms after voteAt): epoch  first  all  startLag(min..max)  lastDecideLog  round  certBytes | last hub: #  startLag  start→decide  decide→SSE\n`)
    for (const r of d.perEpoch) process.stdout.write(`  ${r.epoch}  ${r.firstMs}  ${r.allMs}  ${r.startLagMinMs}..${r.startLagMaxMs}  ${r.decideMaxMs}  ${r.maxRoundSeen}  ${r.certBytes} | ${r.lastHub}  ${r.lastHubStartLagMs}  ${r.lastHubStartToDecideMs}  ${r.lastHubSseMs}\n`)
    if (d.warnings.length) process.stdout.write(`  warnings: ${d.warnings.join(' | ')}\n`)
  }
  const { detail, ...summary } = f
  process.stdout.write(JSON.stringify(summary) + '\n')
}
