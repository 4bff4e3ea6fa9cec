import type { Clock } from '../../src/agreement/clock.js'
import type { AgreementGossip } from '../../src/agreement/agreement.js'

/** A clock that moves only when told to; timers fire in time order during `advance`. */
export class FakeClock implements Clock {
  private timers = new Map<number, { at: number, fn: () => void }>()
  private seq = 0

  constructor (public t: number) {}

  now = (): number => this.t

  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.seq
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn })
    return id
  }

  clearTimeout = (id: unknown): void => { this.timers.delete(id as number) }

  get pending (): number { return this.timers.size }

  /** Moves time on by `ms`, firing every timer due on the way (in order; equal times in creation order). */
  advance (ms: number): void {
    const end = this.t + ms
    for (;;) {
      let next: [number, { at: number, fn: () => void }] | undefined
      for (const kv of this.timers) if (kv[1].at <= end && (next === undefined || kv[1].at < next[1].at)) next = kv
      if (next === undefined) break
      this.timers.delete(next[0])
      this.t = next[1].at
      next[1].fn()
    }
    this.t = end
  }
}

/** Lets real I/O (LevelDB) and queued promises run. */
export const realPause = async (ms = 3): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Advances `clock` in steps, with real pauses between, until `done()` or `maxMs` of fake time. */
export async function runUntil (clock: FakeClock, done: () => boolean, o: { stepMs?: number, maxMs?: number } = {}): Promise<boolean> {
  const step = o.stepMs ?? 50
  for (let t = 0; t <= (o.maxMs ?? 120_000); t += step) {
    if (done()) return true
    clock.advance(step)
    await realPause()
  }
  return done()
}

/**
 * Gossip between agreement instances in one process: every publish reaches every other node's
 * validator for the topic (asynchronously), unless the pair is cut off or `drop` says so.
 */
export class FakeNetwork {
  private readonly nodes = new Map<string, Map<string, (data: Uint8Array, from: string) => Promise<void>>>()
  private readonly cuts = new Set<string>()
  /** Return true to lose this message. */
  drop: (from: string, to: string, topic: string) => boolean = () => false
  readonly results: Array<{ to: string, topic: string, error?: unknown }> = []

  gossip (id: string): AgreementGossip {
    const validators = new Map<string, (data: Uint8Array, from: string) => Promise<void>>()
    this.nodes.set(id, validators)
    return {
      subscribe: (topic, validate) => { validators.set(topic, validate) },
      publish: async (topic, data) => this.deliver(id, topic, data)
    }
  }

  /** Splits the nodes into groups that cannot talk to each other ([] heals). */
  partition (...groups: string[][]): void {
    this.cuts.clear()
    for (const a of groups) for (const b of groups) if (a !== b) for (const x of a) for (const y of b) this.cuts.add(`${x}>${y}`)
  }

  private deliver (from: string, topic: string, data: Uint8Array): number {
    let n = 0
    for (const [to, validators] of this.nodes) {
      const v = validators.get(topic)
      if (to === from || v === undefined || this.cuts.has(`${from}>${to}`) || this.drop(from, to, topic)) continue
      n++
      setImmediate(() => {
        v(data, from).then(() => { this.results.push({ to, topic }) }, (error) => { this.results.push({ to, topic, error }) })
      })
    }
    return n
  }
}

export const quietLogger: any = {
  child: () => quietLogger, debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, trace: () => {}, fatal: () => {}
}

/** Logs held in memory (a LogReader), filled with signed entries. */
export class MemoryLogs {
  private readonly logs = new Map<string, Array<{ bytes: Uint8Array, id: import('@ecandle/protocol').CID }>>()

  add (...entries: Array<{ bytes: Uint8Array, id: import('@ecandle/protocol').CID, payload: { hub: string, seq: number } }>): this {
    for (const e of entries) {
      const log = this.logs.get(e.payload.hub) ?? []
      if (e.payload.seq !== log.length + 1) throw new Error(`MemoryLogs: ${e.payload.hub}#${e.payload.seq} out of order`)
      log.push({ bytes: e.bytes, id: e.id })
      this.logs.set(e.payload.hub, log)
    }
    return this
  }

  head = (hub: string): { seq: number, id: import('@ecandle/protocol').CID } | undefined => {
    const log = this.logs.get(hub)
    return log === undefined || log.length === 0 ? undefined : { seq: log.length, id: log[log.length - 1].id }
  }

  getEntry = async (hub: string, seq: number): Promise<Uint8Array | undefined> => this.logs.get(hub)?.[seq - 1]?.bytes

  getEntries = async (hub: string, from: number, limit: number): Promise<Uint8Array[]> => (this.logs.get(hub) ?? []).slice(from - 1, from - 1 + limit).map(x => x.bytes)
}
