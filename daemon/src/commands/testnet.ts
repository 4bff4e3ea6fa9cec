import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, openSync, closeSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseNetwork } from '@ecandle/protocol'
import { CliError } from '../errors.js'
import type { HubStatus } from '../hub.js'
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
  const started = Date.now()
  const timer = setInterval(() => { void summary(hubDirs, started).then(text => { if (!stopping) draw(text) }) }, 1000)
  await new Promise<void>(resolve => {
    process.once('SIGINT', () => { void stop().then(resolve) })
    process.once('SIGTERM', () => { void stop().then(resolve) })
  })
}

let lastPlain = 0
function draw (text: string): void {
  if (process.stdout.isTTY) {
    process.stdout.write('\x1b[2J\x1b[H' + text + '\n(Ctrl-C stops every hub)\n')
  } else if (Date.now() - lastPlain >= 5000) {
    lastPlain = Date.now()
    process.stdout.write(text + '\n')
  }
}

async function summary (hubDirs: string[], started: number): Promise<string> {
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
    `epochs decided on every hub: ${lastAll < 0 ? 'none yet' : `0 … ${lastAll}`}  (\`ecandle epochs --data-dir ${hubDirs[0]}\`)`
  ].join('\n')
}
