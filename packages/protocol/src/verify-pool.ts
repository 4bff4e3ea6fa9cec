import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { signingBytes, verifySignature, verifySigningInput } from './crypto.js'
import type { SignatureCheck, SignatureVerifier } from './verifier.js'

export interface VerifyPoolOptions {
  /** Worker threads; 0 verifies on the calling thread. Default: one per core (up to 4) when there are ≥ 2 cores. */
  threads?: number
  /** A batch is split across workers only into chunks of at least this many checks. Default 32. */
  minChunk?: number
  /**
   * A batch smaller than one chunk per worker may wait up to this long for more checks. Default 0:
   * it goes at the end of the current turn of the event loop (a timer there would add its delay,
   * which grows under load, to every entry from gossip and sync).
   */
  gatherMs?: number
}

interface Job { checks: readonly SignatureCheck[], resolve: (ok: boolean[]) => void }
interface Chunk { jobs: Job[], checks: SignatureCheck[], n: number }
interface Slot { worker: Worker, inFlight: Map<number, Chunk>, queued: number }

/** Item layout in a batch buffer: key (32), signature (64), input length (2), signing input (domain 0x00 message). */
const HEADER = 32 + 64 + 2
const MAX_INPUT = 0xffff
/** Workers that died; past this the pool stops spawning and verifies inline (something is wrong with threads here). */
const MAX_RESPAWNS = 8

/**
 * Ed25519 verification on every core: checks arriving in the same turn of the event loop are
 * gathered into one batch (a single verify costs ~65 µs; a message to a worker ~1 µs per check
 * when batched, against ~5 µs of main-thread work per `crypto.verify` callback on the libuv
 * threadpool — see bench/README.md), split into chunks, and sent to the least busy worker thread.
 * Each worker runs the check of the synchronous path (`verifySigningInput`). Workers start on first use
 * and do not keep the process alive while idle. If a worker dies, its checks are verified inline.
 */
export class VerifyPool implements SignatureVerifier {
  private readonly threads: number
  private readonly minChunk: number
  private readonly slots: Slot[] = []
  private readonly gatherMs: number
  private waiting: Job[] = []
  private waitingChecks = 0
  private timer?: NodeJS.Timeout
  private immediate?: NodeJS.Immediate
  private nextId = 0
  private deaths = 0
  private readonly prefixes = new Map<string, Uint8Array>()
  readonly counts = { batches: 0, checks: 0, inline: 0, workerErrors: 0 }

  constructor (o: VerifyPoolOptions = {}) {
    const cores = availableParallelism()
    this.threads = Math.max(0, Math.floor(o.threads ?? (cores >= 2 ? Math.min(4, cores) : 0)))
    this.minChunk = Math.max(1, o.minChunk ?? 32)
    this.gatherMs = Math.max(0, o.gatherMs ?? 0)
  }

  async verifyAll (checks: readonly SignatureCheck[]): Promise<boolean[]> {
    if (checks.length === 0) return []
    return await new Promise(resolve => {
      this.waiting.push({ checks, resolve })
      this.waitingChecks += checks.length
      // Everything asked for in this turn of the event loop goes as one batch (with gatherMs, a
      // small batch also waits that long for more).
      if (this.immediate !== undefined) return
      if (this.waitingChecks >= this.minChunk * Math.max(1, this.threads) || this.gatherMs === 0) {
        clearTimeout(this.timer)
        this.timer = undefined
        this.immediate = setImmediate(() => { this.flush() })
      } else if (this.timer === undefined) {
        this.timer = setTimeout(() => { this.flush() }, this.gatherMs)
      }
    })
  }

  async verify (check: SignatureCheck): Promise<boolean> {
    return (await this.verifyAll([check]))[0]
  }

  /** Stops the workers (pending checks are verified inline). */
  async close (): Promise<void> {
    const slots = this.slots.splice(0)
    for (const s of slots) this.orphan(s)
    await Promise.all(slots.map(async s => await s.worker.terminate()))
  }

  private flush (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.immediate = undefined
    const jobs = this.waiting
    this.waiting = []
    this.waitingChecks = 0
    const total = jobs.reduce((n, j) => n + j.checks.length, 0)
    this.counts.batches++
    this.counts.checks += total
    this.ensureWorkers()
    if (this.slots.length === 0) {
      this.inline(jobs)
      return
    }
    // Chunks of whole jobs, about total / workers checks each (no smaller than minChunk).
    const parts = Math.max(1, Math.min(this.slots.length, Math.floor(total / this.minChunk)))
    const target = Math.ceil(total / parts)
    let chunk: Chunk = { jobs: [], checks: [], n: 0 }
    for (const j of jobs) {
      // A big job (one entry's 256 reports) is split itself; small ones are gathered.
      if (j.checks.length > target) {
        this.splitJob(j, target)
        continue
      }
      chunk.jobs.push(j)
      chunk.checks.push(...j.checks)
      chunk.n += j.checks.length
      if (chunk.n >= target) { this.send(chunk); chunk = { jobs: [], checks: [], n: 0 } }
    }
    if (chunk.n > 0) this.send(chunk)
  }

  /** One job across several chunks: its result is assembled when every part is back. */
  private splitJob (j: Job, target: number): void {
    const results: boolean[] = new Array(j.checks.length)
    let left = Math.ceil(j.checks.length / target)
    for (let o = 0; o < j.checks.length; o += target) {
      const checks = j.checks.slice(o, o + target)
      const offset = o
      const part: Job = {
        checks,
        resolve: ok => {
          for (let i = 0; i < ok.length; i++) results[offset + i] = ok[i]
          if (--left === 0) j.resolve(results)
        }
      }
      this.send({ jobs: [part], checks, n: checks.length })
    }
  }

  private send (c: Chunk): void {
    const slot = this.slots.reduce((a, b) => b.queued < a.queued ? b : a)
    let bytes = 0
    for (const k of c.checks) {
      // Shapes the layout cannot carry (verifySignature refuses them anyway) go inline.
      if (k.publicKey.byteLength !== 32 || k.signature.byteLength !== 64 || this.prefix(k.domain).byteLength + k.message.byteLength > MAX_INPUT) { this.inline(c.jobs); return }
      bytes += HEADER + this.prefix(k.domain).byteLength + k.message.byteLength
    }
    const buf = new Uint8Array(bytes)
    const dv = new DataView(buf.buffer)
    let o = 0
    for (const k of c.checks) {
      const prefix = this.prefix(k.domain)
      buf.set(k.publicKey, o)
      buf.set(k.signature, o + 32)
      dv.setUint16(o + 96, prefix.byteLength + k.message.byteLength)
      buf.set(prefix, o + HEADER)
      buf.set(k.message, o + HEADER + prefix.byteLength)
      o += HEADER + prefix.byteLength + k.message.byteLength
    }
    const id = this.nextId++
    slot.inFlight.set(id, c)
    slot.queued += c.n
    if (slot.inFlight.size === 1) slot.worker.ref()
    slot.worker.postMessage({ id, n: c.n, buf }, [buf.buffer])
  }

  /** utf8(domain) 0x00: the start of signingBytes, made once per domain. */
  private prefix (domain: string): Uint8Array {
    let p = this.prefixes.get(domain)
    if (p === undefined) {
      p = signingBytes(domain, new Uint8Array(0))
      if (this.prefixes.size < 64) this.prefixes.set(domain, p)
    }
    return p
  }

  private onResult (slot: Slot, m: { id: number, ok: Uint8Array }): void {
    const c = slot.inFlight.get(m.id)
    if (c === undefined) return
    slot.inFlight.delete(m.id)
    slot.queued -= c.n
    if (slot.inFlight.size === 0) slot.worker.unref()
    let i = 0
    for (const j of c.jobs) {
      const out: boolean[] = new Array(j.checks.length)
      for (let k = 0; k < out.length; k++) out[k] = m.ok[i++] === 1
      j.resolve(out)
    }
  }

  private inline (jobs: Job[]): void {
    for (const j of jobs) {
      this.counts.inline += j.checks.length
      j.resolve(j.checks.map(k => verifySignature(k.publicKey, k.domain, k.message, k.signature)))
    }
  }

  /** A dead worker's chunks are verified here; the slot is dropped and replaced on the next batch. */
  private orphan (slot: Slot): void {
    const i = this.slots.indexOf(slot)
    if (i >= 0) this.slots.splice(i, 1)
    for (const c of slot.inFlight.values()) this.inline(c.jobs)
    slot.inFlight.clear()
  }

  private ensureWorkers (): void {
    while (this.slots.length < this.threads && this.deaths < MAX_RESPAWNS) {
      let worker: Worker
      try {
        // A worker allocates little per check: a small young generation keeps its RSS down (a Pi has 1 GB).
        worker = new Worker(new URL('./verify-worker.js', import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 64 } })
      } catch {
        this.deaths = MAX_RESPAWNS
        return
      }
      const slot: Slot = { worker, inFlight: new Map(), queued: 0 }
      worker.on('message', (m: { id: number, ok: Uint8Array }) => { this.onResult(slot, m) })
      worker.on('error', () => { this.counts.workerErrors++ })
      worker.on('exit', () => {
        if (!this.slots.includes(slot)) return
        this.deaths++
        this.orphan(slot)
      })
      // After the listeners (adding one refs the worker's port again): an idle pool keeps no process alive.
      worker.unref()
      this.slots.push(slot)
    }
  }
}

let shared: VerifyPool | undefined

/** The process-wide pool (threads: `ECANDLE_VERIFY_THREADS`, default one per core up to 4): Node's defaultVerifier(). */
export function sharedVerifyPool (): VerifyPool {
  if (shared === undefined) {
    const env = process.env.ECANDLE_VERIFY_THREADS
    const n = env === undefined || env === '' ? undefined : Number(env)
    shared = new VerifyPool({ threads: n !== undefined && Number.isInteger(n) && n >= 0 ? n : undefined })
  }
  return shared
}

/** Reads one batch (the layout `VerifyPool` writes) and checks every item; used by the worker. */
export function verifyBatch (n: number, buf: Uint8Array): Uint8Array {
  const ok = new Uint8Array(n)
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  let o = 0
  for (let i = 0; i < n; i++) {
    const len = dv.getUint16(o + 96)
    ok[i] = verifySigningInput(buf.subarray(o, o + 32), buf.subarray(o + HEADER, o + HEADER + len), buf.subarray(o + 32, o + 96)) ? 1 : 0
    o += HEADER + len
  }
  return ok
}
