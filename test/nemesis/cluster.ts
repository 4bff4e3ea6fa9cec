import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { EmulateProc, Mosquitto } from '../lib/links.js'
import { Testnet, type TestHub } from '../lib/testnet.js'
import { Tmpfs } from '../lib/tmpfs.js'
import { describeFault, type Fault, type FaultKind } from './schedule.js'

/**
 * The system under the nemesis: hub processes (`ecandle daemon`, real LevelDB, real TCP on
 * 127.0.0.1), a real mosquitto, and the devices of each hub in their own `ecandle-emulate` process
 * on MQTT (flash in a state file, every ack in an ack log). One hub's database sits on a small
 * tmpfs (root only) so its disk can be filled for real. Faults are applied to real processes:
 * SIGKILL and restart, SIGSTOP/SIGCONT, partitions through each hub's POST /admin/partition, a
 * restart with a clock offset (`clockOffsetMs`), a full disk, a broker killed and restarted.
 */
export interface ClusterOptions {
  hubs: number
  devicesPerHub: number
  epochLengthS: number
  gracePeriodS: number
  /** Hub whose database lives on the tmpfs (undefined: none, e.g. not root). */
  diskHub?: number
  log: (line: string) => void
}

export interface FaultRecord { fault: Fault, injectedAt?: number, healedAt?: number, error?: string }

type HubState = 'up' | 'down' | 'paused'

export class Cluster {
  readonly mosq = new Mosquitto()
  readonly emus: EmulateProc[] = []
  readonly records: FaultRecord[] = []
  /** Hub exits nobody asked for (a crash), with the log tail. */
  readonly crashes: string[] = []
  disk?: Tmpfs
  private readonly state: HubState[]
  /** State changes per hub: a request that fails across one is the fault's doing, not the hub's. */
  private readonly moves: number[]
  /** What each hub should block now (the partition in force), applied whenever it is up. */
  private readonly desiredBlock: string[][]
  private readonly tokens: string[]
  private readonly hubChain: Array<Promise<unknown>>
  private brokerPort = 0
  private stopping = false

  private constructor (readonly tn: Testnet, readonly o: ClusterOptions) {
    this.state = tn.hubs.map(() => 'down')
    this.moves = tn.hubs.map(() => 0)
    this.desiredBlock = tn.hubs.map(() => [])
    this.hubChain = tn.hubs.map(() => Promise.resolve())
    this.tokens = tn.hubs.map(h => readFileSync(join(h.dir, 'api.token'), 'utf8').trim())
  }

  static async create (o: ClusterOptions): Promise<Cluster> {
    const tn = await Testnet.create({ hubs: o.hubs, devicesPerHub: o.devicesPerHub, epochLengthS: o.epochLengthS, gracePeriodS: o.gracePeriodS, reportIntervalS: 1, entryIntervalMs: 500 })
    return new Cluster(tn, o)
  }

  get hubs (): TestHub[] { return this.tn.hubs }

  private topicOf (h: TestHub): string { return `${this.tn.net.id}-${h.name}` }

  async start (): Promise<void> {
    await this.mosq.start(join(this.tn.dir, 'mosquitto'))
    this.brokerPort = this.mosq.port
    const url = this.mosq.url
    if (this.o.diskHub !== undefined) {
      this.disk = new Tmpfs(join(this.hubs[this.o.diskHub].dir, 'db'), '96m')
      this.disk.mount()
    }
    for (const h of this.hubs) {
      h.configure(c => {
        c.emulator = null
        // One broker, a topic space per hub (its own devices only); devices resync their clock to the
        // hub's every 5 s (a hub restarted with a clock offset).
        c.devices = { mqtt: { url, topic: this.topicOf(h) }, timeSyncS: 5 }
        c.minFreeDiskBytes = 16 * 1024 * 1024
      })
    }
    await Promise.all(this.hubs.map(async (_, i) => { await this.startHub(i) }))
    for (const h of this.hubs) {
      const e = new EmulateProc(join(this.tn.dir, `emu-${h.index + 1}`), h.deviceKeysPath)
      e.start(['--mqtt', url, '--network', this.topicOf(h), '--interval', '1', '--resend-ms', '1000'])
      this.emus.push(e)
    }
  }

  private async startHub (i: number): Promise<void> {
    const h = this.hubs[i]
    h.spawn()
    const proc = h.proc
    void h.exited?.then(({ code, signal }) => {
      // Exits we caused are SIGKILL (kill), SIGTERM (clock restart, stop); anything else is a crash.
      if (!this.stopping && h.proc === proc && this.state[i] !== 'down' && signal !== 'SIGKILL' && signal !== 'SIGTERM') {
        this.crashes.push(`${h.name} exited by itself (code ${String(code)}, signal ${String(signal)}):\n${h.logTail(30)}`)
      }
    })
    await h.waitApi(90_000)
    this.setState(i, 'up')
    await this.applyBlock(i)
  }

  private setState (i: number, s: HubState): void {
    this.state[i] = s
    this.moves[i]++
  }

  private async applyBlock (i: number): Promise<void> {
    const h = this.hubs[i]
    if (this.state[i] !== 'up' || h.url === undefined) return
    const moves = this.moves[i]
    let res: Response
    try {
      res = await fetch(`${h.url as string}/admin/partition`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.tokens[i]}`, 'content-type': 'application/json' },
        body: JSON.stringify({ block: this.desiredBlock[i] }),
        signal: AbortSignal.timeout(10_000)
      })
    } catch (err) {
      // Killed, paused or restarted while we asked (a fault of the same moment on that hub): the
      // block in force is applied again when it is up (startHub, SIGCONT).
      if (this.moves[i] !== moves) return
      throw err
    }
    if (!res.ok) throw new Error(`${h.name}: POST /admin/partition → ${res.status} ${await res.text()}`)
  }

  /**
   * Faults of one hub run one after another: a restart takes seconds, and a SIGSTOP sent while the
   * previous restart is still coming up would pause a half-started hub.
   */
  private onHub<T> (i: number | undefined, fn: () => Promise<T>): Promise<T> {
    if (i === undefined) return fn()
    const run = this.hubChain[i].then(fn, fn)
    this.hubChain[i] = run.catch(() => {})
    return run
  }

  async inject (f: Fault): Promise<void> {
    await this.onHub(f.hub, async () => { await this.injectNow(f) })
  }

  async heal (f: Fault): Promise<void> {
    await this.onHub(f.hub, async () => { await this.healNow(f) })
  }

  private async injectNow (f: Fault): Promise<void> {
    const h = f.hub === undefined ? undefined : this.hubs[f.hub]
    switch (f.kind) {
      case 'kill':
        this.setState(f.hub as number, 'down')
        await h?.kill()
        return
      case 'pause':
        this.setState(f.hub as number, 'paused')
        h?.proc?.kill('SIGSTOP')
        return
      case 'partition': {
        const side = new Set(f.side)
        const a = this.hubs.filter((_, i) => side.has(i)).map(x => x.peerId)
        const b = this.hubs.filter((_, i) => !side.has(i)).map(x => x.peerId)
        this.hubs.forEach((_, i) => { this.desiredBlock[i] = side.has(i) ? b : a })
        await Promise.all(this.hubs.map(async (_, i) => { await this.applyBlock(i) }))
        return
      }
      case 'clock':
        await this.restartWithOffset(f.hub as number, f.offsetMs ?? 0)
        return
      case 'disk':
        this.disk?.fill()
        return
      case 'broker': {
        const p = this.mosq.proc
        if (p === undefined) return
        const gone = new Promise(resolve => p.once('exit', resolve))
        p.kill('SIGKILL')
        await gone
        this.mosq.proc = undefined
      }
    }
  }

  private async healNow (f: Fault): Promise<void> {
    switch (f.kind) {
      case 'kill':
        await this.startHub(f.hub as number)
        return
      case 'pause': {
        const i = f.hub as number
        this.hubs[i].proc?.kill('SIGCONT')
        this.setState(i, 'up')
        await this.applyBlock(i)
        return
      }
      case 'partition':
        this.hubs.forEach((_, i) => { this.desiredBlock[i] = [] })
        await Promise.all(this.hubs.map(async (_, i) => { await this.applyBlock(i) }))
        return
      case 'clock':
        await this.restartWithOffset(f.hub as number, 0)
        return
      case 'disk':
        this.disk?.release()
        return
      case 'broker':
        await this.mosq.start(join(this.tn.dir, 'mosquitto'), this.brokerPort)
    }
  }

  private async restartWithOffset (i: number, offsetMs: number): Promise<void> {
    const h = this.hubs[i]
    this.setState(i, 'down')
    await h.stop()
    h.configure(c => { c.clockOffsetMs = offsetMs })
    await this.startHub(i)
  }

  /** Runs the schedule in real time: each fault injected at its time and healed at its end. */
  async run (faults: readonly Fault[]): Promise<void> {
    const t0 = Date.now()
    const at = async (ms: number): Promise<void> => {
      const wait = t0 + ms - Date.now()
      if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
    }
    await Promise.all(faults.map(async f => {
      const rec: FaultRecord = { fault: f }
      this.records.push(rec)
      try {
        await at(f.at)
        this.o.log(`  nemesis: ${describeFault(f)}`)
        await this.inject(f)
        rec.injectedAt = Date.now() - t0
        await at(f.at + f.durationMs)
        await this.heal(f)
        rec.healedAt = Date.now() - t0
      } catch (err: any) {
        rec.error = String(err?.message ?? err)
        this.o.log(`  nemesis: ${f.kind} failed: ${rec.error}`)
      }
    }))
  }

  /** Faults injected and healed, by kind. */
  survived (): Partial<Record<FaultKind, { injected: number, healed: number }>> {
    const out: Partial<Record<FaultKind, { injected: number, healed: number }>> = {}
    for (const r of this.records) {
      const k = (out[r.fault.kind] ??= { injected: 0, healed: 0 })
      if (r.injectedAt !== undefined) k.injected++
      if (r.healedAt !== undefined) k.healed++
    }
    return out
  }

  /** Devices stop (their flash written): from here on the logs only converge. */
  async stopDevices (): Promise<void> {
    await Promise.all(this.emus.map(async e => { await e.stop() }))
  }

  async destroy (): Promise<void> {
    this.stopping = true
    for (const h of this.hubs) h.proc?.kill('SIGCONT')
    await this.stopDevices().catch(() => {})
    await this.tn.stopAll().catch(() => {})
    await this.mosq.stop().catch(() => {})
    this.disk?.unmount()
    await this.tn.destroy()
  }
}

/** Whether this process may mount a tmpfs (root on Linux). */
export function canMount (): boolean {
  return process.platform === 'linux' && process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v mount'], { stdio: 'ignore' }).status === 0
}
