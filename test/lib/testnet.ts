import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNetwork, type ConfigFile, type CreatedNetwork, type CreateNetworkOptions } from '@ecandle/daemon'
import { parseNetwork, type Network } from '@ecandle/protocol'
import type { EntryJson, HubStatus } from '@ecandle/client'

/**
 * Multi-process test harness: a real network written by `createNetwork`, real hub processes
 * (`ecandle daemon`), real TCP on 127.0.0.1 and real LevelDB in a temp dir. Nothing is mocked;
 * everything is observed through each hub's local HTTP API.
 */

/** The CLI every hub process runs (built by `tsc -b`). */
export const BIN = fileURLToPath(new URL('../../../daemon/dist/src/bin/ecandle.js', import.meta.url))

export type Heads = HubStatus['heads']

/** An entry as GET /logs/:hub returns it. */
export type { EntryJson }

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/**
 * Polls `probe` until it returns something other than undefined/false, or fails after `timeoutMs`
 * naming what was awaited (and the last probe error or observed state, if `describe` is given).
 */
export async function waitFor<T> (what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, opts: { timeoutMs?: number, intervalMs?: number, describe?: () => string | Promise<string> } = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000
  const deadline = Date.now() + timeoutMs
  let lastErr: unknown
  for (;;) {
    try {
      const v = await probe()
      if (v !== undefined && v !== false) return v
      lastErr = undefined
    } catch (err) {
      lastErr = err
    }
    if (Date.now() >= deadline) {
      let state = ''
      try { state = opts.describe === undefined ? '' : `; last state: ${await opts.describe()}` } catch {}
      const why = lastErr === undefined ? '' : `; last error: ${String((lastErr as Error)?.message ?? lastErr)}`
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}${state}`)
    }
    await sleep(opts.intervalMs ?? 200)
  }
}

export async function getJson<T> (url: string, timeoutMs = 5000): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${await res.text()}`)
  return await res.json() as T
}

/** GET that returns the status code instead of throwing on non-2xx. */
export async function getStatusCode (url: string, timeoutMs = 5000): Promise<number> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  await res.arrayBuffer()
  return res.status
}

/** One hub of a test network: its data dir and (while running) its process. */
export class TestHub {
  proc?: ChildProcess
  /** Resolves when the current process exits. */
  exited?: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  url?: string
  readonly logPath: string
  /** Processes started so far (restarts included). */
  starts = 0

  constructor (readonly index: number, readonly dir: string, readonly peerId: string, readonly port: number) {
    this.logPath = join(dir, 'hub.log')
  }

  get name (): string { return `hub-${this.index + 1}` }

  /** True while the process runs (not yet exited). */
  get alive (): boolean { return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null }

  /** Spawns `ecandle daemon --data-dir <dir>`; stdout and stderr go to hub.log (appended). */
  spawn (extraArgs: string[] = []): void {
    if (this.alive) throw new Error(`${this.name} is already running`)
    const fd = openSync(this.logPath, 'a')
    try {
      const [cmd, argv] = this.command([BIN, 'daemon', '--data-dir', this.dir, ...extraArgs])
      this.proc = spawn(cmd, argv, { stdio: ['ignore', fd, fd] })
    } finally {
      closeSync(fd)
    }
    const proc = this.proc
    this.exited = new Promise(resolve => proc.once('exit', (code, signal) => { resolve({ code, signal }) }))
    this.url = undefined
    this.starts++
  }

  /** How the daemon is run: node with these arguments (a subclass may wrap it). */
  protected command (nodeArgs: string[]): [string, string[]] { return [process.execPath, nodeArgs] }

  /** Where this test reaches the API that api.json names (a subclass may forward it). */
  protected reachableUrl (apiUrl: string): string { return apiUrl }

  /** Waits until this process wrote api.json (with its own pid) and GET /status answers. */
  async waitApi (timeoutMs = 30_000): Promise<string> {
    const proc = this.proc
    if (proc === undefined) throw new Error(`${this.name} was never started`)
    let exitedEarly = false
    void this.exited?.then(() => { exitedEarly = true })
    this.url = await waitFor(`${this.name}'s API (api.json with pid ${String(proc.pid)} and GET /status answering)`, async () => {
      if (exitedEarly) throw new Error(`${this.name} exited (code ${String(proc.exitCode)}, signal ${String(proc.signalCode)}) before its API was up; log tail:\n${this.logTail(20)}`)
      const file = join(this.dir, 'api.json')
      if (!existsSync(file)) return undefined
      const api = JSON.parse(await readFile(file, 'utf8')) as { url: string, pid: number }
      if (api.pid !== proc.pid) return undefined // a stale file of a killed process
      const url = this.reachableUrl(api.url)
      await getJson(`${url}/status`, 2000)
      return url
    }, { timeoutMs, intervalMs: 100 })
    return this.url
  }

  async start (timeoutMs?: number): Promise<string> {
    this.spawn()
    return await this.waitApi(timeoutMs)
  }

  /** SIGTERM, and wait for the exit (SIGKILL after `graceMs`). */
  async stop (graceMs = 10_000): Promise<{ code: number | null, signal: NodeJS.Signals | null } | undefined> {
    if (!this.alive || this.proc === undefined) return undefined
    const proc = this.proc
    proc.kill('SIGTERM')
    const t = setTimeout(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') }, graceMs)
    try {
      return await this.exited
    } finally {
      clearTimeout(t)
    }
  }

  /** SIGKILL: no shutdown at all, as in a power cut of the process (not of the disk). */
  async kill (): Promise<void> {
    if (!this.alive || this.proc === undefined) return
    this.proc.kill('SIGKILL')
    await this.exited
  }

  private api (): string {
    if (this.url === undefined) throw new Error(`${this.name}: API not up (start it and waitApi first)`)
    return this.url
  }

  async get<T> (path: string): Promise<T> { return await getJson<T>(`${this.api()}${path}`) }
  async status (): Promise<HubStatus> { return await this.get<HubStatus>('/status') }

  /** Every entry of `hub`'s log from seq 1 to `toSeq` (inclusive), from this hub's store. */
  async logEntries (hub: string, toSeq: number): Promise<EntryJson[]> {
    const out: EntryJson[] = []
    while (out.length < toSeq) {
      const from = out.length + 1
      const page = await this.get<EntryJson[]>(`/logs/${hub}?from=${from}&limit=${Math.min(256, toSeq - from + 1)}`)
      if (page.length === 0) throw new Error(`${this.name}: log of ${hub} ends at seq ${from - 1}, expected at least ${toSeq}`)
      out.push(...page)
    }
    return out.slice(0, toSeq)
  }

  /** This hub's config.json. */
  get configPath (): string { return join(this.dir, 'config.json') }

  /** The keys of this hub's devices, as `createNetwork` wrote them ({ devices: [{ id, seed, ratedWhPerDay }] }). */
  get deviceKeysPath (): string { return join(this.dir, 'devices.json') }

  /**
   * Edits config.json before a (re)start: `patch` changes the parsed file in place (or returns a
   * new one), e.g. `h.configure(c => { c.emulator = null; c.devices = { serial: [{ path }] } })`.
   */
  configure (patch: (config: ConfigFile) => ConfigFile | undefined | void): ConfigFile {
    const before = JSON.parse(readFileSync(this.configPath, 'utf8')) as ConfigFile
    const after = patch(before) ?? before
    writeFileSync(this.configPath, JSON.stringify(after, null, 2) + '\n')
    return after
  }

  logTail (lines = 30): string {
    try {
      const text = readFileSync(this.logPath, 'utf8').trimEnd().split('\n')
      return text.slice(-lines).join('\n')
    } catch {
      return '(no log)'
    }
  }
}

export interface TestnetOptions extends Partial<Omit<CreateNetworkOptions, 'dir'>> {
  hubs: number
  devicesPerHub: number
}

/** A network in a temp dir; hubs start, stop and get killed one by one. */
export class Testnet {
  readonly hubs: TestHub[]
  readonly net: Network

  private constructor (readonly dir: string, readonly created: CreatedNetwork) {
    this.hubs = created.hubDirs.map((d, i) => new TestHub(i, d, created.peerIds[i], created.ports[i]))
    this.net = parseNetwork(readFileSync(created.networkPath, 'utf8'))
  }

  static async create (o: TestnetOptions): Promise<Testnet> {
    const dir = await mkdtemp(join(tmpdir(), 'ecandle-e2e-'))
    try {
      const created = await createNetwork({ reportIntervalS: 1, entryIntervalMs: 500, epochLengthS: 60, ...o, dir, host: '127.0.0.1' })
      return new Testnet(dir, created)
    } catch (err) {
      await rm(dir, { recursive: true, force: true })
      throw err
    }
  }

  get networkPath (): string { return this.created.networkPath }
  get peerIds (): string[] { return this.created.peerIds }

  /** Starts the given hubs (default all) at once and waits for every API. */
  async start (which: number[] = this.hubs.map((_, i) => i)): Promise<void> {
    for (const i of which) this.hubs[i].spawn()
    await Promise.all(which.map(async i => await this.hubs[i].waitApi()))
  }

  running (): TestHub[] { return this.hubs.filter(h => h.alive) }

  /** Statuses of the given hubs, fetched concurrently. */
  async statuses (hubs: TestHub[] = this.running()): Promise<HubStatus[]> {
    return await Promise.all(hubs.map(async h => await h.status()))
  }

  /**
   * Waits until every given hub reports the same head (seq and id) for every one of `logs`
   * in one concurrent round of GET /status; returns those statuses.
   */
  async waitConverged (opts: { hubs?: TestHub[], logs?: string[], timeoutMs?: number, minSeq?: Record<string, number> } = {}): Promise<HubStatus[]> {
    const hubs = opts.hubs ?? this.running()
    const logs = opts.logs ?? this.peerIds
    let last: HubStatus[] = []
    return await waitFor(`identical heads of ${logs.length} logs on ${hubs.map(h => h.name).join(', ')}`, async () => {
      last = await this.statuses(hubs)
      for (const log of logs) {
        const first = last[0].heads[log]
        if (first === undefined || first.seq < (opts.minSeq?.[log] ?? 1)) return undefined
        if (!last.every(s => s.heads[log]?.seq === first.seq && s.heads[log]?.id === first.id)) return undefined
      }
      return last
    }, {
      timeoutMs: opts.timeoutMs ?? 30_000,
      intervalMs: 100,
      describe: () => last.map((s, i) => `${hubs[i].name}: ${logs.map(l => `${l.slice(-6)}#${String(s.heads[l]?.seq ?? 0)}`).join(' ')}`).join(' | ')
    })
  }

  /** The last lines of every hub's log, for a failed test. */
  logTails (lines = 25): string {
    return this.hubs.map(h => `----- ${h.name} (${h.peerId}) ${h.logPath}\n${h.logTail(lines)}`).join('\n')
  }

  async stopAll (): Promise<void> {
    await Promise.all(this.hubs.map(async h => { await h.stop() }))
  }

  /** Stops every hub and removes the temp dir. */
  async destroy (): Promise<void> {
    await this.stopAll()
    await rm(this.dir, { recursive: true, force: true })
  }
}

/** The usual mocha hooks: print each hub's log tail when a test failed. */
export function printTailsOnFailure (ctx: Mocha.Context, net: Testnet | undefined): void {
  if (net !== undefined && ctx.currentTest?.state === 'failed') {
    process.stderr.write(`\n===== hub logs of the failed test "${ctx.currentTest.title}" =====\n${net.logTails()}\n`)
  }
}

/** Runs the CLI to completion; returns exit code and output. */
export async function runCli (args: string[], opts: { timeoutMs?: number, env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const timeoutMs = opts.timeoutMs ?? 30_000
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(resolve => child.once('close', (c, s) => { resolve([c, s]) }))
  clearTimeout(timer)
  if (signal === 'SIGKILL') throw new Error(`ecandle ${args.join(' ')} did not exit within ${timeoutMs} ms; stderr: ${stderr}`)
  return { code, signal, stdout, stderr }
}

/**
 * Follows GET /events (Server-Sent Events) of a hub and keeps every event received.
 * `close()` ends it.
 */
export class EventTap {
  /** `at`: when this process received it (Date.now()). */
  readonly events: Array<{ event: string, data: any, at: number }> = []
  private readonly ctl = new AbortController()
  readonly done: Promise<void>
  private readonly ready: Promise<void>

  constructor (url: string) {
    let setReady!: () => void
    let failReady!: (err: unknown) => void
    this.ready = new Promise((resolve, reject) => { setReady = resolve; failReady = reject })
    this.ready.catch(() => {}) // awaited through opened(); never an unhandled rejection
    this.done = (async () => {
      try {
        const res = await fetch(`${url}/events`, { signal: this.ctl.signal })
        if (!res.ok || res.body === null) throw new Error(`GET ${url}/events: HTTP ${res.status}`)
        setReady()
        const decoder = new TextDecoder()
        let buf = ''
        for await (const chunk of res.body) {
          buf += decoder.decode(chunk as Uint8Array, { stream: true })
          let i: number
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i)
            buf = buf.slice(i + 2)
            let event = 'message'
            const data: string[] = []
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7)
              else if (line.startsWith('data: ')) data.push(line.slice(6))
            }
            if (data.length > 0) this.events.push({ event, data: JSON.parse(data.join('\n')), at: Date.now() })
          }
        }
      } catch (err) {
        failReady(err)
      }
    })()
  }

  /** Resolves once the stream is open (the hub has registered us). */
  async opened (): Promise<void> { await this.ready }

  close (): void { this.ctl.abort() }
}

export interface LogAudit {
  /** Reports in all audited logs. */
  reports: number
  /** Reports per log (hub peer id). */
  perLog: Record<string, number>
  /** `device:counter` of every report. */
  keys: Set<string>
  /** Entry ids per log, in seq order. */
  ids: Record<string, string[]>
}

/**
 * Walks every log up to `heads` on `hub` and checks what must hold of honest data: seqs 1..n,
 * each prev the id of the entry before, the last id the head's id, every report of a device
 * registered to that log's hub, counters rising per device, and no (device, counter) twice.
 * `countersRise: false` for devices with a window of reports in flight: after lost messages (a
 * hub restart) a device's newer report may be stored before an older one it resends, which the
 * rules allow (counters are unique, not rising across entries); within an entry they still rise.
 */
export async function auditLogs (hub: TestHub, net: Network, heads: Heads, opts: { countersRise?: boolean } = {}): Promise<LogAudit> {
  const audit: LogAudit = { reports: 0, perLog: {}, keys: new Set(), ids: {} }
  for (const [log, head] of Object.entries(heads)) {
    if (!net.hubs.has(log)) throw new Error(`${hub.name} has a head for ${log}, which is not a hub of the network`)
    const entries = await hub.logEntries(log, head.seq)
    const last = new Map<string, number>()
    audit.perLog[log] = 0
    audit.ids[log] = entries.map(e => e.id)
    entries.forEach((e, i) => {
      const where = `${hub.name}: log ${log} seq ${e.seq}`
      if (opts.countersRise === false) last.clear()
      if (e.hub !== log || e.seq !== i + 1) throw new Error(`${where}: expected entry ${log}#${i + 1}, got ${e.hub}#${e.seq}`)
      if (e.prev !== (i === 0 ? null : entries[i - 1].id)) throw new Error(`${where}: prev ${String(e.prev)} is not the id of seq ${i}`)
      for (const r of e.reports) {
        const key = `${r.device}:${r.counter}`
        const owner = net.devices.get(r.device)?.info.hub
        if (owner !== log) throw new Error(`${where}: report ${key} of a device ${owner === undefined ? 'not registered' : `registered to ${owner}`}`)
        if (r.counter <= (last.get(r.device) ?? 0)) throw new Error(`${where}: counter of ${r.device} went from ${String(last.get(r.device))} to ${r.counter}`)
        last.set(r.device, r.counter)
        if (audit.keys.has(key)) throw new Error(`${where}: report ${key} stored twice`)
        audit.keys.add(key)
        audit.reports++
        audit.perLog[log]++
      }
    })
    if (entries.length > 0 && entries[entries.length - 1].id !== head.id) throw new Error(`${hub.name}: log ${log} seq ${head.seq} has id ${entries[entries.length - 1].id}, but its head says ${head.id}`)
  }
  return audit
}
