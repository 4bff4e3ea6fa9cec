/**
 * Test support for serial and MQTT links (exported as @ecandle/emulator/testing): real
 * pseudo-terminals from socat, free loopback ports, and a clear error when a system tool is missing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'

/** Fails with a clear message when a system tool the test needs is missing. */
export function requireTool (name: string): void {
  if (spawnSync('sh', ['-c', `command -v ${name}`]).status !== 0) {
    throw new Error(`${name} is not installed, and this test needs it: apt-get install -y ${name} (.ci/run installs it in CI)`)
  }
}

export { freePort } from './ports.js'

/** SIGTERM a child process and resolve once it has exited (at once if it already has). */
export async function stopChild (p: ChildProcess | undefined): Promise<void> {
  if (p === undefined || p.exitCode !== null || p.signalCode !== null) return
  const gone = new Promise(resolve => p.once('exit', resolve))
  p.kill('SIGTERM')
  await gone
}

/** A pseudo-terminal pair from socat: `hub` and `dev` are symlinks to its two ends. */
export class PtyPair {
  proc?: ChildProcess
  constructor (readonly hub: string, readonly dev: string) {}

  static inDir (dir: string): PtyPair {
    mkdirSync(dir, { recursive: true })
    return new PtyPair(join(dir, 'hub'), join(dir, 'dev'))
  }

  /** Starts socat; resolves once it moves data (both links exist). */
  async start (): Promise<void> {
    requireTool('socat')
    const p = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${this.hub}`, `pty,raw,echo=0,link=${this.dev}`], { stdio: ['ignore', 'ignore', 'pipe'] })
    this.proc = p
    await new Promise<void>((resolve, reject) => {
      let log = ''
      p.once('error', reject)
      p.once('exit', code => { reject(new Error(`socat exited (${String(code)}): ${log}`)) })
      p.stderr?.on('data', (b: Buffer) => {
        log += b.toString()
        if (log.includes('starting data transfer loop') && existsSync(this.hub) && existsSync(this.dev)) resolve()
      })
    })
  }

  /** Unplugs: kills socat and resolves when it is gone. */
  async stop (): Promise<void> {
    const p = this.proc
    this.proc = undefined
    await stopChild(p)
  }
}
