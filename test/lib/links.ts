import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { decodeReport } from '@ecandle/protocol'
import { freePort, PtyPair, requireTool, stopChild } from '@ecandle/emulator/testing'
import { waitFor } from './testnet.js'

/**
 * The device side of multi-process tests: socat pseudo-terminal pairs, a private mosquitto, and
 * `ecandle-emulate` processes that record every ack they take (--ack-log) and keep their flash
 * (--state) in files the test reads. Nothing here is mocked.
 */

/** The device emulator program (built by `tsc -b`). */
export const EMULATE_BIN = fileURLToPath(new URL('../../../packages/emulator/dist/src/bin/emulate.js', import.meta.url))

export { freePort, PtyPair, requireTool }

/** Our own mosquitto on a free loopback port (never the system service). */
export class Mosquitto {
  proc?: ChildProcess
  url = ''
  port = 0

  /** Starts it on `port` (a restart keeps its port), or on a free one. */
  async start (dir: string, port?: number): Promise<void> {
    requireTool('mosquitto')
    mkdirSync(dir, { recursive: true })
    this.port = port ?? await freePort()
    const conf = join(dir, 'mosquitto.conf')
    writeFileSync(conf, `listener ${this.port} 127.0.0.1\nallow_anonymous true\npersistence false\n`)
    const fd = openSync(join(dir, 'mosquitto.log'), 'a')
    const p = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', fd, fd] })
    closeSync(fd)
    this.proc = p
    let exited = false
    p.once('exit', () => { exited = true })
    await waitFor(`mosquitto to listen on 127.0.0.1:${this.port}`, async () => {
      if (exited) throw new Error(`mosquitto exited with ${String(p.exitCode)}; see ${join(dir, 'mosquitto.log')}`)
      return await new Promise<boolean>(resolve => {
        const s = connect(this.port, '127.0.0.1', () => { s.destroy(); resolve(true) })
        s.on('error', () => { s.destroy(); resolve(false) })
      })
    }, { timeoutMs: 10_000, intervalMs: 50 })
    this.url = `mqtt://127.0.0.1:${this.port}`
  }

  async stop (): Promise<void> {
    const p = this.proc
    this.proc = undefined
    await stopChild(p)
  }
}

/** One line of an emulator's --ack-log. */
export interface AckLine { d: string, c: number, st: 'stored' | 'duplicate' | 'refused', why?: string }

/** The emulator's flash file (--state). */
export interface EmulatorState { version: 1, devices: Record<string, { lastCounter: number, queue: string[] }> }

/**
 * An `ecandle-emulate` process: its flash in `<dir>/state.json`, every ack it takes in
 * `<dir>/acks.jsonl`, its output in `<dir>/emulate.log`. It outlives any hub.
 */
export class EmulateProc {
  proc?: ChildProcess
  exited?: Promise<void>
  readonly statePath: string
  readonly ackLogPath: string
  readonly logPath: string

  constructor (readonly dir: string, readonly keysPath: string) {
    mkdirSync(dir, { recursive: true })
    this.statePath = join(dir, 'state.json')
    this.ackLogPath = join(dir, 'acks.jsonl')
    this.logPath = join(dir, 'emulate.log')
  }

  /** Starts `ecandle-emulate --keys … --state … --ack-log …` plus `args` (the link and options). */
  start (args: string[]): void {
    const fd = openSync(this.logPath, 'a')
    const p = spawn(process.execPath, [EMULATE_BIN, '--keys', this.keysPath, '--state', this.statePath, '--ack-log', this.ackLogPath, '--stats-s', '2', ...args], { stdio: ['ignore', fd, fd] })
    closeSync(fd)
    this.proc = p
    this.exited = new Promise(resolve => p.once('exit', () => { resolve() }))
  }

  get alive (): boolean { return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null }

  /** SIGTERM: the emulator writes its flash and exits. */
  async stop (): Promise<void> {
    if (!this.alive || this.proc === undefined) return
    this.proc.kill('SIGTERM')
    const t = setTimeout(() => { this.proc?.kill('SIGKILL') }, 10_000)
    await this.exited
    clearTimeout(t)
  }

  acks (): AckLine[] {
    if (!existsSync(this.ackLogPath)) return []
    return readFileSync(this.ackLogPath, 'utf8').split('\n').filter(l => l.length > 0).map(l => JSON.parse(l) as AckLine)
  }

  /** `device:counter` of every report the hub acknowledged as durable (stored or duplicate). */
  durable (): Set<string> {
    return new Set(this.acks().filter(a => a.st !== 'refused').map(a => `${a.d}:${a.c}`))
  }

  state (): EmulatorState | undefined {
    try {
      return JSON.parse(readFileSync(this.statePath, 'utf8')) as EmulatorState
    } catch {
      return undefined // not written yet (or being replaced: the next poll reads it)
    }
  }

  /** `device:counter` of every report waiting in the devices' flash for an ack. */
  queued (): Set<string> {
    const out = new Set<string>()
    for (const [id, s] of Object.entries(this.state()?.devices ?? {})) {
      for (const hex of s.queue) out.add(`${id}:${counterOf(hex)}`)
    }
    return out
  }

  logTail (lines = 20): string {
    try { return readFileSync(this.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') } catch { return '(no log)' }
  }
}

function counterOf (hex: string): number {
  return decodeReport(Buffer.from(hex, 'hex')).report.counter
}

/** Writes a key file holding only some of a hub's devices (one emulator process per subset). */
export function writeKeySubset (from: string, to: string, ids: string[]): void {
  const all = JSON.parse(readFileSync(from, 'utf8')) as { devices: Array<{ id: string }> }
  const devices = all.devices.filter(d => ids.includes(d.id))
  if (devices.length !== ids.length) throw new Error(`${from} lacks some of ${ids.join(', ')}`)
  writeFileSync(to, JSON.stringify({ devices }), { mode: 0o600 })
}
