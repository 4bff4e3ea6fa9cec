import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'

/** What a device keeps across reboots: the last counter it used and its unacknowledged reports. */
export interface AgentState {
  lastCounter: number
  /** Signed report bytes, oldest first. */
  queue: Uint8Array[]
}

interface FileShape {
  version: 1
  devices: Record<string, { lastCounter: number, queue: string[] /* hex */ }>
}

/**
 * The emulator's flash: one JSON file for all emulated devices, replaced atomically (write a
 * temporary file, rename), so a crash leaves the old state or the new, never half of one.
 * Writes are debounced; flush() forces one (before a reboot or exit).
 */
export class AgentStore {
  private readonly states = new Map<string, AgentState>()
  private timer?: NodeJS.Timeout

  constructor (private readonly path?: string, private readonly debounceMs = 50) {
    if (path === undefined) return
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch {
      return // first run
    }
    try {
      const f = JSON.parse(text) as FileShape
      for (const [id, s] of Object.entries(f.devices ?? {})) {
        if (typeof s?.lastCounter !== 'number' || !Array.isArray(s.queue)) continue
        this.states.set(id, { lastCounter: s.lastCounter, queue: s.queue.filter(h => typeof h === 'string' && /^([0-9a-f]{2})+$/.test(h)).map(h => new Uint8Array(Buffer.from(h, 'hex'))) })
      }
    } catch {
      // A corrupt file (disk full mid-write without rename) is a fresh start; counters are time-based anyway.
    }
  }

  load (device: string): AgentState {
    const s = this.states.get(device)
    return { lastCounter: s?.lastCounter ?? 0, queue: [...(s?.queue ?? [])] }
  }

  save (device: string, state: AgentState): void {
    this.states.set(device, { lastCounter: state.lastCounter, queue: [...state.queue] })
    if (this.path === undefined || this.timer !== undefined) return
    this.timer = setTimeout(() => { this.flush() }, this.debounceMs)
  }

  flush (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    if (this.path === undefined) return
    const f: FileShape = { version: 1, devices: {} }
    for (const [id, s] of this.states) f.devices[id] = { lastCounter: s.lastCounter, queue: s.queue.map(b => Buffer.from(b).toString('hex')) }
    mkdirSync(dirname(this.path), { recursive: true })
    const tmp = `${this.path}.tmp`
    writeFileSync(tmp, JSON.stringify(f), { mode: 0o600 })
    renameSync(tmp, this.path)
  }
}
