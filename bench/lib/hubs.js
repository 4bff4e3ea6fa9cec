// Real hub processes for the replication and memory figures: a testnet written by createNetwork,
// one `ecandle daemon` process per hub, each hub's /events SSE stream read by this process.
import { spawn } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNetwork } from '@ecandle/daemon'
import { sleep } from './util.js'
import { sseParser } from './sse.js'

const running = (c) => c.exitCode === null && c.signalCode === null

const BIN = fileURLToPath(new URL('../../daemon/dist/src/bin/ecandle.js', import.meta.url))

export class Testnet {
  constructor (dir, created, children) {
    this.dir = dir
    this.created = created
    this.children = children
    this.streams = []
  }

  /** createNetwork + one daemon process per hub; resolves when every hub's API is up. */
  static async start ({ hubs, devicesPerHub, reportIntervalS = 10, entryIntervalMs, logLevel = 'warn', nodeArgs = [], daemonArgs = [] }) {
    const dir = await mkdtemp(join(tmpdir(), 'ecandle-bench-net-'))
    const created = await createNetwork({ dir, hubs, devicesPerHub, reportIntervalS, entryIntervalMs })
    const children = created.hubDirs.map(d => {
      const fd = openSync(join(d, 'hub.log'), 'a')
      const child = spawn(process.execPath, [...nodeArgs, BIN, 'daemon', '--data-dir', d, '--log-level', logLevel, ...daemonArgs], { stdio: ['ignore', fd, fd] })
      closeSync(fd)
      child.exited = new Promise(resolve => child.once('exit', resolve))
      return child
    })
    const net = new Testnet(dir, created, children)
    try {
      net.urls = await Promise.all(created.hubDirs.map(async (d, i) => await net.#waitApi(d, i)))
    } catch (err) {
      for (const d of created.hubDirs) {
        try { process.stderr.write(`--- ${d}/hub.log (tail)\n${readFileSync(join(d, 'hub.log'), 'utf8').split('\n').slice(-15).join('\n')}\n`) } catch {}
      }
      await net.stop()
      throw err
    }
    return net
  }

  async #waitApi (d, i) {
    const deadline = Date.now() + 60_000
    const f = join(d, 'api.json')
    while (Date.now() < deadline) {
      if (!running(this.children[i])) throw new Error(`hub-${i + 1} exited (${this.children[i].exitCode}); see ${join(d, 'hub.log')}`)
      if (existsSync(f)) {
        try { return JSON.parse(await readFile(f, 'utf8')).url } catch {}
      }
      await sleep(100)
    }
    throw new Error(`hub-${i + 1}: no api.json after 60 s; see ${join(d, 'hub.log')}`)
  }

  /** The emulator's device order per hub: device id -> { hub index, index among the hub's devices, count }. */
  deviceIndex () {
    const m = new Map()
    this.created.hubDirs.forEach((d, h) => {
      const { devices } = JSON.parse(readFileSync(join(d, 'devices.json'), 'utf8'))
      devices.forEach((dev, i) => m.set(dev.id, { hub: h, index: i, count: devices.length }))
    })
    return m
  }

  async status (i) {
    const res = await fetch(`${this.urls[i]}/status`, { signal: AbortSignal.timeout(5000) })
    return await res.json()
  }

  /** Waits until every hub sees the others as peers (or the timeout passes); returns the peer counts. */
  async waitConnected (timeoutMs = 30_000) {
    const want = this.urls.length - 1
    const deadline = Date.now() + timeoutMs
    let peers = []
    while (Date.now() < deadline) {
      peers = await Promise.all(this.urls.map(async (_, i) => (await this.status(i).catch(() => ({ peers: -1 }))).peers))
      if (peers.every(p => p >= want)) break
      await sleep(250)
    }
    return peers
  }

  /** Subscribes to hub i's /events stream; `onEntry(hubIndex, event)` for every stored entry. */
  subscribe (i, onEntry) {
    return new Promise((resolve, reject) => {
      const req = http.get(`${this.urls[i]}/events`, (res) => {
        if (res.statusCode !== 200) { reject(new Error(`hub-${i + 1} /events: HTTP ${res.statusCode}`)); return }
        res.setEncoding('utf8')
        res.on('data', sseParser((event, data) => { if (event === 'entry') onEntry(i, JSON.parse(data)) }))
        res.on('end', () => { if (!this.stopping) process.stderr.write(`[bench] hub-${i + 1} /events stream ended\n`) })
        resolve()
      })
      req.on('error', (err) => { if (!this.stopping) reject(err) })
      this.streams.push(req)
    })
  }

  /** VmRSS and VmHWM (peak) of hub i's process, MB. */
  rss (i) {
    const s = readFileSync(`/proc/${this.children[i].pid}/status`, 'utf8')
    const kb = (f) => Number(new RegExp(`^${f}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN)
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 }
  }

  /** CPU seconds (user + system) used so far by hub i's process (clock ticks of 1/100 s). */
  cpuS (i) {
    const stat = readFileSync(`/proc/${this.children[i].pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / 100
  }

  async stop () {
    this.stopping = true
    for (const r of this.streams) r.destroy()
    for (const c of this.children) if (running(c)) c.kill('SIGTERM')
    const kill = setTimeout(() => { for (const c of this.children) if (running(c)) c.kill('SIGKILL') }, 10_000)
    await Promise.all(this.children.map(c => c.exited))
    clearTimeout(kill)
    await rm(this.dir, { recursive: true, force: true })
  }
}
