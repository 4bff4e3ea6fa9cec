import { CID, decodeCanonical, encode, sha256, type Head, type VerifiedEntry, type VerifiedEvidence } from '@ecandle/protocol'
import { Level } from 'level'
import { freeDiskBytes } from './disk.js'
import { Bucket, keys, range, readU64, SCHEMA_VERSION, u64 } from './keys.js'

export class StoreError extends Error {
  override name = 'StoreError'
  /** `unavailable`: the store takes no writes now (disk full, or a write failed); reads still work. */
  constructor (readonly code: 'schema' | 'network' | 'open' | 'corrupt' | 'unavailable', message: string) {
    super(message)
  }
}

export interface PutOp { key: Uint8Array, value: Uint8Array }

/**
 * Turns a database of schema `from` into one of schema `from + 1`: the writes it returns are made in
 * one synced batch together with the new version, so a crash leaves either schema, never a mix.
 */
export interface Migration {
  from: number
  /** What it changes (logs, errors). */
  name: string
  run: (store: Store) => Promise<PutOp[]>
}

export interface StoreOptions {
  /** Migrations from older schemas; a database older than the oldest one here is refused. */
  migrations?: readonly Migration[]
  /** Told of each migration before it runs. */
  onMigrate?: (m: Migration) => void
  /** LevelDB's block cache and memtable, bytes (LevelDB's defaults: 8 and 4 MiB; the daemon's resource profile sets them). */
  cacheSize?: number
  writeBufferSize?: number
  /** false: only inspect an existing database (`ecandle doctor`), never create one. */
  createIfMissing?: boolean
  /**
   * Writes are refused (StoreError `unavailable`) while the disk holding the database has less free
   * space than this, so LevelDB never runs into a full disk mid-write. Default 0: only failed
   * writes stop writing.
   */
  minFreeBytes?: number
  /** How often free space is checked (and a failed store reopened once space is back). Default 1000 ms. */
  diskCheckMs?: number
  /** Told whenever the store stops or resumes taking writes. */
  onWritable?: (state: WritableState) => void
}

/** Whether the store takes writes, and if not, why. */
export interface WritableState {
  writable: boolean
  /** `disk-full`: free space below `minFreeBytes`; `write-failed`: LevelDB refused a write (reopened once space is back). */
  reason?: 'disk-full' | 'write-failed'
  message?: string
  /** Free bytes on the database's disk at the last check (undefined before the first). */
  freeBytes?: number
}

export interface ReportLocation { seq: number, index: number }

type Batch = Array<{ type: 'put', key: Uint8Array, value: Uint8Array } | { type: 'del', key: Uint8Array }>

/** Free space a failed store waits for before it reopens its database, whatever `minFreeBytes` says. */
const REOPEN_FREE_BYTES = 1024 * 1024

const te = new TextEncoder()
const td = new TextDecoder()

/**
 * The hub's LevelDB. Heads and device counters are also kept in memory (there are at most a few
 * hundred hubs and ~100k devices) so validation needs no read. Callers serialise appends.
 */
export class Store {
  private readonly headCache = new Map<string, Head>()
  private readonly counterCache = new Map<string, number>()
  private reports = 0
  /** Set while writes are refused; `failed` once LevelDB refused one (it is reopened before the next). */
  private down?: { reason: 'disk-full' | 'write-failed', message: string }
  private failed = false
  private freeBytes?: number
  private diskTimer?: NodeJS.Timeout
  private checking?: Promise<void>
  private reopening?: Promise<void>

  private constructor (private readonly db: Level<Uint8Array, Uint8Array>, readonly networkId: string, private readonly path: string, private readonly opts: StoreOptions) {}

  /** Opens (or creates) the store; migrates an older schema it knows, refuses any other schema or network with a clear error. */
  static async open (path: string, networkId: string, opts: StoreOptions = {}): Promise<Store> {
    const db = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' })
    try {
      const tuning = { ...(opts.cacheSize !== undefined ? { cacheSize: opts.cacheSize } : {}), ...(opts.writeBufferSize !== undefined ? { writeBufferSize: opts.writeBufferSize } : {}) }
      await db.open({ ...tuning, createIfMissing: opts.createIfMissing ?? true })
    } catch (err: any) {
      throw new StoreError('open', `cannot open the database at ${path}: ${String(err?.cause?.message ?? err?.message ?? err)}`)
    }
    const store = new Store(db, networkId, path, opts)
    try {
      await store.init(path, opts)
    } catch (err) {
      await db.close()
      throw err
    }
    await store.checkDisk()
    store.diskTimer = setInterval(() => { void store.checkDisk() }, opts.diskCheckMs ?? 1000)
    store.diskTimer.unref()
    return store
  }

  /** Whether writes are taken now, why not, and the free space seen last. */
  get writable (): WritableState {
    return this.down === undefined ? { writable: true, freeBytes: this.freeBytes } : { writable: false, ...this.down, freeBytes: this.freeBytes }
  }

  /**
   * Checks free space: below `minFreeBytes` writes stop; at or above it they resume, after
   * reopening the database if a write failed (LevelDB's state after a failed write is not to be
   * trusted: reopening recovers its log, dropping any torn record, before anything else is written).
   */
  async checkDisk (): Promise<void> {
    if (this.checking !== undefined) { await this.checking; return }
    this.checking = (async () => {
      try {
        this.freeBytes = await freeDiskBytes(this.path)
      } catch {
        return // the disk could not be asked (gone?): writes will tell
      }
      const low = this.freeBytes < (this.opts.minFreeBytes ?? 0)
      if (low) {
        if (this.down === undefined) this.setDown('disk-full', `${this.freeBytes} bytes free on the data disk, below the ${this.opts.minFreeBytes ?? 0} bytes kept free`)
        return
      }
      if (this.down === undefined) return
      if (this.failed) {
        // Reopening recovers LevelDB's log into a table: it needs some room of its own.
        if (this.freeBytes < REOPEN_FREE_BYTES) return
        try {
          await this.reopen()
        } catch (err: any) {
          this.down = { reason: 'write-failed', message: `reopening the database failed: ${String(err?.message ?? err)}` }
          return
        }
      }
      this.failed = false
      this.down = undefined
      this.opts.onWritable?.(this.writable)
    })().finally(() => { this.checking = undefined })
    await this.checking
  }

  private setDown (reason: 'disk-full' | 'write-failed', message: string): void {
    const was = this.down
    this.down = { reason, message }
    if (was?.reason !== reason) this.opts.onWritable?.(this.writable)
  }

  private async reopen (): Promise<void> {
    const run = (async () => {
      await this.db.close()
      await this.db.open()
      // What is on disk now is the truth: a write reported failed may have been recovered from the log.
      await this.loadCaches()
    })()
    this.reopening = run.catch(() => {})
    try {
      await run
    } finally {
      this.reopening = undefined
    }
  }

  /** Reads wait while the database is being reopened. */
  private async ready (): Promise<void> {
    if (this.reopening !== undefined) await this.reopening
  }

  /** Every write goes through here: refused while down; a failure takes the store down until reopened. */
  private async write (what: string, fn: () => Promise<void>): Promise<void> {
    if (this.down !== undefined) throw new StoreError('unavailable', `${what} not written: ${this.down.message}`)
    try {
      await fn()
    } catch (err: any) {
      this.failed = true
      const why = String(err?.cause?.message ?? err?.message ?? err)
      this.setDown('write-failed', `a write failed (${why}); writes resume once ${this.opts.minFreeBytes ?? 0} bytes are free and the database is reopened`)
      throw new StoreError('unavailable', `${what} not written: ${why}`)
    }
  }

  private async init (path: string, opts: StoreOptions): Promise<void> {
    const schema = await this.db.get(keys.meta('schema'))
    const network = await this.db.get(keys.meta('network'))
    if (schema === undefined) {
      await this.db.batch([
        { type: 'put', key: keys.meta('schema'), value: u64(SCHEMA_VERSION) },
        { type: 'put', key: keys.meta('network'), value: te.encode(this.networkId) },
        { type: 'put', key: keys.meta('reports'), value: u64(0) }
      ], { sync: true })
    } else {
      const net = network === undefined ? '(none)' : td.decode(network)
      if (net !== this.networkId) throw new StoreError('network', `the database belongs to network ${net}, not ${this.networkId}`)
      let v = readU64(schema)
      if (v > SCHEMA_VERSION) throw new StoreError('schema', `the database at ${path} has schema version ${v}, made by a newer build; this build reads version ${SCHEMA_VERSION}`)
      while (v < SCHEMA_VERSION) {
        const m = opts.migrations?.find(x => x.from === v)
        if (m === undefined) {
          throw new StoreError('schema', `the database at ${path} has schema version ${v}; this build reads version ${SCHEMA_VERSION} and cannot migrate it (move it aside and the hub resyncs from its peers)`)
        }
        opts.onMigrate?.(m)
        let ops: PutOp[]
        try {
          ops = await m.run(this)
        } catch (err: any) {
          throw new StoreError('schema', `the database at ${path}: migration from schema ${v} (${m.name}) failed: ${String(err?.message ?? err)}`)
        }
        v++
        await this.db.batch([...ops.map(o => ({ type: 'put' as const, key: o.key, value: o.value })), { type: 'put', key: keys.meta('schema'), value: u64(v) }], { sync: true })
      }
    }
    await this.loadCaches()
  }

  /** Heads, device counters and the report count, from disk. */
  private async loadCaches (): Promise<void> {
    this.headCache.clear()
    this.counterCache.clear()
    const reports = await this.db.get(keys.meta('reports'))
    this.reports = reports === undefined ? 0 : readU64(reports)
    for await (const [k, v] of this.db.iterator(range(Bucket.head))) {
      const h = decodeCanonical<{ seq: number, id: CID, time: number }>(v, 'head')
      this.headCache.set(td.decode(k.subarray(1)), { seq: h.seq, id: h.id, time: h.time })
    }
    for await (const [k, v] of this.db.iterator(range(Bucket.deviceCounter))) {
      this.counterCache.set(td.decode(k.subarray(1)), readU64(v))
    }
  }

  async close (): Promise<void> {
    clearInterval(this.diskTimer)
    await this.checking
    await this.db.close()
  }

  get reportCount (): number { return this.reports }

  head (hub: string): Head | undefined { return this.headCache.get(hub) }

  heads (): ReadonlyMap<string, Head> { return this.headCache }

  counterOf (device: string): number | undefined { return this.counterCache.get(device) }

  async getEntry (hub: string, seq: number): Promise<Uint8Array | undefined> {
    await this.ready()
    return await this.db.get(keys.entry(hub, seq))
  }

  /** Entries of `hub` from seq `from`, at most `limit`, in order. */
  async getEntries (hub: string, from: number, limit: number): Promise<Uint8Array[]> {
    await this.ready()
    const out: Uint8Array[] = []
    const { lt } = range(Bucket.entry, hub, Uint8Array.of(0))
    for await (const v of this.db.values({ gte: keys.entry(hub, Math.max(1, from)), lt, limit })) out.push(v)
    return out
  }

  async findReport (device: string, counter: number): Promise<ReportLocation | undefined> {
    await this.ready()
    const v = await this.db.get(keys.reportIndex(device, counter))
    if (v === undefined) return undefined
    const dv = new DataView(v.buffer, v.byteOffset, v.byteLength)
    return { seq: dv.getUint32(0), index: dv.getUint16(4) }
  }

  /**
   * Appends an entry that passed every rule (checkAppend included) in ONE batch: the entry bytes,
   * the new head, device counters, the report index and the report count. `sync` makes it durable
   * before it resolves (required before acknowledging reports of our own devices).
   */
  async appendEntry (e: VerifiedEntry, opts: { sync?: boolean } = {}): Promise<void> {
    const p = e.payload
    const head: Head = { seq: p.seq, id: e.id, time: p.time }
    const counters = new Map<string, number>()
    const ops: Batch = [
      { type: 'put', key: keys.entry(p.hub, p.seq), value: e.bytes },
      { type: 'put', key: keys.head(p.hub), value: encode({ seq: head.seq, id: head.id, time: head.time }) }
    ]
    e.reports.forEach((r, i) => {
      const loc = new Uint8Array(6)
      const dv = new DataView(loc.buffer)
      dv.setUint32(0, p.seq)
      dv.setUint16(4, i)
      ops.push({ type: 'put', key: keys.reportIndex(r.report.device, r.report.counter), value: loc })
      counters.set(r.report.device, Math.max(counters.get(r.report.device) ?? 0, r.report.counter))
    })
    for (const [device, c] of counters) ops.push({ type: 'put', key: keys.deviceCounter(device), value: u64(c) })
    const reports = this.reports + e.reports.length
    ops.push({ type: 'put', key: keys.meta('reports'), value: u64(reports) })
    await this.write(`entry ${p.hub}#${p.seq}`, async () => { await this.db.batch(ops, { sync: opts.sync === true }) })
    // Caches change only after the batch is on disk.
    this.headCache.set(p.hub, head)
    for (const [device, c] of counters) this.counterCache.set(device, c)
    this.reports = reports
  }

  /** Stores evidence once; false if it was already there. */
  async putEvidence (ev: VerifiedEvidence): Promise<boolean> {
    const k = keys.evidence(sha256(ev.bytes))
    await this.ready()
    if (await this.db.has(k)) return false
    await this.write('evidence', async () => { await this.db.put(k, ev.bytes) })
    return true
  }

  async listEvidence (limit = 1000): Promise<Uint8Array[]> {
    await this.ready()
    const out: Uint8Array[] = []
    for await (const v of this.db.values({ ...range(Bucket.evidence), limit })) out.push(v)
    return out
  }

  // ---- raw access for typed repositories (repository.ts) and migrations; nothing else uses these ----

  async getRaw (k: Uint8Array): Promise<Uint8Array | undefined> {
    await this.ready()
    return await this.db.get(k)
  }

  async putRaw (k: Uint8Array, v: Uint8Array, opts: { sync?: boolean } = {}): Promise<void> {
    await this.write('record', async () => { await this.db.put(k, v, { sync: opts.sync === true }) })
  }

  /** Deletes raw keys in one batch (a repository's `delete`). */
  async delRaw (ks: readonly Uint8Array[], opts: { sync?: boolean } = {}): Promise<void> {
    if (ks.length > 0) await this.db.batch(ks.map(key => ({ type: 'del' as const, key })), { sync: opts.sync === true })
  }

  async * iterate (bucket: Bucket, opts: { limit?: number, gte?: Uint8Array } = {}): AsyncGenerator<[Uint8Array, Uint8Array]> {
    await this.ready()
    const r = range(bucket)
    yield * this.db.iterator({ gte: opts.gte ?? r.gte, lt: r.lt, limit: opts.limit ?? -1 })
  }

  /** Several raw writes as one atomic batch (e.g. `Repository.putOp`s of several buckets). */
  async batchRaw (ops: PutOp[], opts: { sync?: boolean } = {}): Promise<void> {
    await this.write('records', async () => { await this.db.batch(ops.map(o => ({ type: 'put' as const, key: o.key, value: o.value })), { sync: opts.sync === true }) })
  }

  /** The last key/value of a bucket (e.g. the latest certificate). */
  async last (bucket: Bucket): Promise<[Uint8Array, Uint8Array] | undefined> {
    await this.ready()
    for await (const kv of this.db.iterator({ ...range(bucket), reverse: true, limit: 1 })) return kv
    return undefined
  }

  /** Compacts everything (for disk-usage measurements). */
  async compact (): Promise<void> {
    await (this.db as any).compactRange(Uint8Array.of(0), Uint8Array.of(0xff))
  }
}
