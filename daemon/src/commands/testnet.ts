import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, openSync, closeSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { epochOf, epochVoteAtMs, parseNetwork, type Network } from '@ecandle/protocol'
import { CliError } from '../errors.js'
import type { HubStatus } from '@ecandle/api'
import { createNetwork } from './setup.js'
import { apiUrl } from './daemon.js'

const BIN = fileURLToPath(new URL('../bin/ecandle.js', import.meta.url))

export interface TestnetOptions { hubs: number, devicesPerHub: number, dir: string, epochLengthS?: number, reportIntervalS?: number, entryIntervalMs?: number }

/**
 * `ecandle testnet`: a network of N hub processes on 127.0.0.1 with emulated devices.
 * Reuses D if it already holds a testnet of N hubs; shows a live summary until Ctrl-C.
 */
export async function runTestnet (o: TestnetOptions): Promise<void> {
  const networkPath = join(o.dir, 'network.json')
  let hubDirs: string[]
  if (existsSync(networkPath)) {
    const net = parseNetwork(await readFile(networkPath, 'utf8'))
    if (net.def.validators.length !== o.hubs) throw new CliError(`${o.dir} holds a testnet of ${net.def.validators.length} hubs; use another --dir or --hubs ${net.def.validators.length}`)
    hubDirs = net.def.validators.map((_, i) => join(o.dir, `hub-${i + 1}`))
    process.stdout.write(`reusing the testnet in ${o.dir}\n`)
  } else {
    const created = await createNetwork({ dir: o.dir, hubs: o.hubs, devicesPerHub: o.devicesPerHub, epochLengthS: o.epochLengthS, reportIntervalS: o.reportIntervalS, entryIntervalMs: o.entryIntervalMs })
    hubDirs = created.hubDirs
    process.stdout.write(`created a testnet of ${o.hubs} hubs × ${o.devicesPerHub} devices in ${o.dir}\n`)
  }
  process.stdout.write(`starting ${hubDirs.length} hub processes on 127.0.0.1; each signs its emulated eCandles' reports into its own log, and every hub copies every log (logs: ${join(o.dir, 'hub-N', 'hub.log')})\n`)
  const children: ChildProcess[] = hubDirs.map(dir => {
    const fd = openSync(join(dir, 'hub.log'), 'a')
    const child = spawn(process.execPath, [BIN, 'daemon', '--data-dir', dir], { stdio: ['ignore', fd, fd] })
    closeSync(fd)
    return child
  })
  let stopping = false
  const exited = children.map(c => new Promise<void>(resolve => c.once('exit', () => { resolve() })))
  children.forEach((c, i) => c.once('exit', (code) => {
    if (!stopping) process.stdout.write(`hub-${i + 1} exited (code ${String(code)}); see ${join(hubDirs[i], 'hub.log')}\n`)
  }))
  const stop = async (): Promise<void> => {
    if (stopping) return
    stopping = true
    clearInterval(timer)
    process.stdout.write('\nstopping hubs…\n')
    for (const c of children) c.kill('SIGTERM')
    const kill = setTimeout(() => { for (const c of children) c.kill('SIGKILL') }, 10_000)
    await Promise.all(exited)
    clearTimeout(kill)
    process.stdout.write('all hubs stopped\n')
  }
  const net = parseNetwork(await readFile(networkPath, 'utf8'))
  const started = Date.now()
  const screen = new Screen(process.stdout)
  const timer = setInterval(() => { void summary(net, hubDirs, started).then(text => { if (!stopping) screen.draw(text) }) }, 1000)
  await new Promise<void>(resolve => {
    process.once('SIGINT', () => { void stop().then(resolve) })
    process.once('SIGTERM', () => { void stop().then(resolve) })
  })
}

/**
 * The live summary: on a terminal it is redrawn in place (the cursor goes back up over the last
 * drawing, which is then cleared), so the screen does not scroll; elsewhere (a pipe, a log file) it
 * is printed as plain lines every 5 s.
 */
export class Screen {
  private rows = 0
  private lastPlain = 0
  constructor (private readonly out: NodeJS.WriteStream) {}

  draw (text: string): void {
    if (this.out.isTTY) {
      const lines = `${text}\n(Ctrl-C stops every hub)`.split('\n')
      const width = Math.max(this.out.columns ?? 80, 1)
      const up = this.rows > 0 ? `\x1b[${this.rows}A\r` : ''
      // Every row is cleared as it is written: a shorter line leaves nothing of the longer one.
      this.out.write(up + lines.map(l => `${l}\x1b[K`).join('\n') + '\n\x1b[J')
      // Rows on the screen, counting lines the terminal wraps.
      this.rows = lines.reduce((n, l) => n + Math.max(1, Math.ceil(l.length / width)), 0)
    } else if (Date.now() - this.lastPlain >= 5000) {
      this.lastPlain = Date.now()
      this.out.write(text + '\n')
    }
  }
}

/** What the epoch clock means for a newcomer: which epoch runs, and when the next vote is due. */
export function epochLine (net: Network, decidedOnAll: number, nowMs: number): string {
  const { epochLengthS, gracePeriodS } = net.def
  const current = epochOf(net, nowMs)
  const next = decidedOnAll + 1
  const voteIn = Math.ceil((epochVoteAtMs(net, next) - nowMs) / 1000)
  const clock = `epoch ${Math.max(current, 0)} is running (epochs last ${epochLengthS} s)`
  if (voteIn > 0) {
    const when = decidedOnAll < 0 ? 'the first decision' : `the decision on epoch ${next}`
    return `${clock}; ${when} comes when epoch ${next} has ended and its ${gracePeriodS} s grace has passed: votes start in ${voteIn} s`
  }
  return `${clock}; the hubs are voting on epoch ${next}${next < current - 1 ? ` (catching up on ${current - 1 - next} more)` : ''}`
}

async function summary (net: Network, hubDirs: string[], started: number): Promise<string> {
  const statuses = await Promise.all(hubDirs.map(async dir => {
    try {
      const res = await fetch(`${await apiUrl(dir)}/status`, { signal: AbortSignal.timeout(900) })
      return await res.json() as HubStatus
    } catch {
      return undefined
    }
  }))
  const up = statuses.filter((s): s is HubStatus => s !== undefined)
  const heads = up.map(s => JSON.stringify(Object.entries(s.heads).sort()))
  const agree = up.length === hubDirs.length && heads.every(h => h === heads[0])
  const rows = statuses.map((s, i) => s === undefined
    ? `hub-${i + 1}  (starting or down)`
    : `hub-${i + 1}  ${s.peerId.slice(-8)}  peers ${String(s.peers).padStart(2)}  devices ${String(s.devices).padStart(4)}  reports ${String(s.reports).padStart(7)}  own seq ${String(s.heads[s.peerId]?.seq ?? 0).padStart(5)}  logs ${Object.keys(s.heads).length}  epoch ${s.lastEpoch ?? '-'}`)
  const t = Math.round((Date.now() - started) / 1000)
  const decided = up.map(s => s.lastEpoch ?? -1)
  const lastAll = decided.length === hubDirs.length ? Math.min(...decided) : -1
  return [
    `eCandle testnet — ${hubDirs.length} hubs — up ${t} s`,
    ...rows,
    `all hubs hold identical logs: ${agree ? 'yes' : 'not yet'}`,
    `epochs decided on every hub: ${lastAll < 0 ? 'none yet' : `0 … ${lastAll}`}  (\`ecandle epochs --data-dir ${hubDirs[0]}\`)`,
    epochLine(net, lastAll, Date.now())
  ].join('\n')
}
