// Replication latency: from a report's creation on its device to its storage on every hub.
import { Testnet } from './hubs.js'
import { log, percentile, sleep } from './util.js'

/**
 * When the emulator made a report. The emulator gives device i of n (in its hub's device list) the
 * phase floor(i·I/n) ms within the report interval I and makes its k-th report when its timer
 * fires at due = k·I + phase; periodEnd = counter = floor(due / 1000). `due` is the only instant in
 * [counter·1000, counter·1000 + 1000) congruent to the phase mod I (I ≥ 1000), so it is recovered
 * exactly from (device, counter). Taking periodEnd·1000 instead would overstate latency by up to
 * 1 s (mean 0.5 s). The report is signed when the timer fires, at due or a few ms after: latency
 * from `due` includes that timer lateness, so it can only overstate, never understate.
 */
export function creationMs (info, counter, intervalMs) {
  const phase = Math.floor(info.index * intervalMs / info.count)
  const base = counter * 1000
  const due = base + (((phase - base) % intervalMs) + intervalMs) % intervalMs
  return due < base + 1000 ? due : undefined
}

/** Reports every device makes with due time in [t0, t1). */
function expectedReports (devIndex, intervalMs, t0, t1) {
  let n = 0
  for (const info of devIndex.values()) {
    const phase = Math.floor(info.index * intervalMs / info.count)
    for (let t = Math.ceil((t0 - phase) / intervalMs) * intervalMs + phase; t < t1; t += intervalMs) n++
  }
  return n
}

/**
 * Starts `hubs` hub processes × `devicesPerHub` emulated devices, subscribes to every hub's /events,
 * waits for the mesh and `warmupS`, then follows every report whose creation falls in the next
 * `measureS` seconds until it is stored on all hubs (or a drain timeout passes).
 */
export async function measureReplication ({ hubs = 5, devicesPerHub = 200, reportIntervalS = 10, entryIntervalMs = 5000, warmupS = 12, measureS = 60, nodeArgs = [] }) {
  const intervalMs = reportIntervalS * 1000
  const tStart = Date.now()
  const net = await Testnet.start({ hubs, devicesPerHub, reportIntervalS, entryIntervalMs, nodeArgs })
  try {
    const devIndex = net.deviceIndex()
    /** "device:counter" -> { created, origin, stored: number[] (per hub, storedAt ms) } */
    const seen = new Map()
    let badCounter = 0
    let events = 0
    const onEntry = (h, ev) => {
      events++
      for (const rid of ev.reportIds) {
        let r = seen.get(rid)
        if (r === undefined) {
          const k = rid.lastIndexOf(':')
          const info = devIndex.get(rid.slice(0, k))
          const created = info === undefined ? undefined : creationMs(info, Number(rid.slice(k + 1)), intervalMs)
          if (created === undefined) { badCounter++; continue }
          r = { created, origin: info.hub, stored: new Array(hubs).fill(undefined) }
          seen.set(rid, r)
        }
        if (r.stored[h] === undefined) r.stored[h] = ev.storedAt
      }
    }
    await Promise.all(net.urls.map(async (_, i) => await net.subscribe(i, onEntry)))
    const peers = await net.waitConnected()
    const tUp = Date.now()
    log(`replication (entry interval ${entryIntervalMs} ms): ${hubs} hubs up in ${((tUp - tStart) / 1000).toFixed(1)} s, peers ${peers.join(',')}; warm-up ${warmupS} s, measuring ${measureS} s`)
    await sleep(warmupS * 1000)
    const t0 = Date.now()
    const cpu0 = net.urls.map((_, i) => net.cpuS(i))
    await sleep(measureS * 1000)
    const t1 = Date.now()
    const hubCpuPct = net.urls.map((_, i) => 100 * (net.cpuS(i) - cpu0[i]) / ((t1 - t0) / 1000))
    // Drain: every report made in [t0, t1) gets until t1 + entry interval + 10 s to reach every hub.
    const inWindow = () => [...seen.values()].filter(r => r.created >= t0 && r.created < t1)
    const drainUntil = t1 + entryIntervalMs + 10_000
    const expected = expectedReports(devIndex, intervalMs, t0, t1)
    while (Date.now() < drainUntil) {
      const w = inWindow()
      if (w.length >= expected && w.every(r => r.stored.every(s => s !== undefined))) break
      await sleep(200)
    }
    const rss = net.urls.map((_, i) => net.rss(i).rssMb)
    const statuses = await Promise.all(net.urls.map(async (_, i) => await net.status(i).catch(() => undefined)))
    const w = inWindow()
    const toAll = w.map(r => r.stored.every(s => s !== undefined) ? Math.max(...r.stored) - r.created : Infinity).sort((a, b) => a - b)
    const toOrigin = w.map(r => r.stored[r.origin] === undefined ? Infinity : r.stored[r.origin] - r.created).sort((a, b) => a - b)
    // Origin stored → last hub stored: the network part alone (gossip, validation, write).
    const spread = w.filter(r => r.stored.every(s => s !== undefined)).map(r => Math.max(...r.stored) - r.stored[r.origin]).sort((a, b) => a - b)
    const complete = toAll.filter(x => Number.isFinite(x)).length
    const result = {
      entryIntervalMs,
      hubs,
      devices: devIndex.size,
      reportIntervalS,
      measureS: (t1 - t0) / 1000,
      expectedReports: expected,
      seenReports: w.length,
      completeReports: complete,
      missingReports: expected - complete,
      badCounters: badCounter,
      events,
      p50Ms: percentile(toAll, 50),
      p90Ms: percentile(toAll, 90),
      p99Ms: percentile(toAll, 99),
      maxMs: toAll.at(-1),
      originP50Ms: percentile(toOrigin, 50),
      originP99Ms: percentile(toOrigin, 99),
      spreadP50Ms: percentile(spread, 50),
      spreadP99Ms: percentile(spread, 99),
      hubRssMb: rss,
      hubCpuPct,
      appendedPerHub: statuses.map(s => s?.ingest?.appended ?? null),
      syncFetchedPerHub: statuses.map(s => s?.sync?.fetched ?? null),
      entriesPerHubPerS: statuses.map(s => s?.log?.entries === undefined ? null : s.log.entries / s.uptimeS),
      totalS: (Date.now() - tStart) / 1000
    }
    // Expected reports never seen at all count as never stored.
    for (let i = w.length; i < expected; i++) toAll.push(Infinity)
    if (w.length < expected) {
      toAll.sort((a, b) => a - b)
      result.p50Ms = percentile(toAll, 50)
      result.p90Ms = percentile(toAll, 90)
      result.p99Ms = percentile(toAll, 99)
      result.maxMs = toAll.at(-1)
    }
    return result
  } finally {
    await net.stop()
  }
}

/** RSS of one hub process with `devices` emulated devices in resource `profile`, sampled every second for `seconds`. */
export async function measureRss ({ devices = 1000, reportIntervalS = 10, entryIntervalMs = 5000, seconds = 60, profile = 'default' }) {
  const tStart = Date.now()
  const net = await Testnet.start({ hubs: 1, devicesPerHub: devices, reportIntervalS, entryIntervalMs, daemonArgs: ['--profile', profile] })
  try {
    log(`memory (${profile}): 1 hub × ${devices} devices up in ${((Date.now() - tStart) / 1000).toFixed(1)} s; sampling RSS for ${seconds} s`)
    const samples = []
    const t0 = Date.now()
    const cpu0 = net.cpuS(0)
    while (Date.now() - t0 < seconds * 1000) {
      await sleep(1000)
      samples.push(net.rss(0).rssMb)
    }
    const last = net.rss(0)
    const cpuPct = 100 * (net.cpuS(0) - cpu0) / ((Date.now() - t0) / 1000)
    const st = await net.status(0).catch(() => undefined)
    return { profile, devices, seconds, rssMb: last.rssMb, maxSampledRssMb: Math.max(...samples), hwmMb: last.hwmMb, reportsStored: st?.reports ?? null, cpuPct, totalS: (Date.now() - tStart) / 1000 }
  } finally {
    await net.stop()
  }
}
