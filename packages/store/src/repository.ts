import { key, readU64, u64, type Bucket } from './keys.js'
import { StoreError, type PutOp, type Store } from './store.js'

/** How a repository's values become bytes and back; `decode` throws on anything it did not write. */
export interface Codec<T> {
  encode: (v: T) => Uint8Array
  decode: (b: Uint8Array) => T
}

/** The part of a key after the bucket byte. */
export interface KeyCodec<K> {
  encode: (k: K) => Uint8Array
  decode: (b: Uint8Array) => K
}

/** Big-endian u64 keys (epochs): they sort numerically. */
export const u64Key: KeyCodec<number> = { encode: u64, decode: (b) => readU64(b) }

const te = new TextEncoder()
const td = new TextDecoder()
/** UTF-8 names. */
export const nameKey: KeyCodec<string> = { encode: (s) => te.encode(s), decode: (b) => td.decode(b) }

/**
 * One bucket, typed (Lodestar's repositories): keys and values only through their codecs. `putOp`
 * gives a write to join one atomic batch with other repositories' (`Store.batchRaw`).
 */
export class Repository<K, V> {
  constructor (
    protected readonly store: Store,
    readonly bucket: Bucket,
    protected readonly keyCodec: KeyCodec<K>,
    protected readonly codec: Codec<V>
  ) {}

  protected keyOf (k: K): Uint8Array { return key(this.bucket, this.keyCodec.encode(k)) }

  protected decode (k: K, bytes: Uint8Array): V {
    try {
      return this.codec.decode(bytes)
    } catch (err: any) {
      throw new StoreError('corrupt', `bucket 0x${this.bucket.toString(16)} key ${String(k)}: ${String(err?.message ?? err)}`)
    }
  }

  async get (k: K): Promise<V | undefined> {
    const b = await this.store.getRaw(this.keyOf(k))
    return b === undefined ? undefined : this.decode(k, b)
  }

  /** The stored bytes as they are (e.g. a certificate served to peers). */
  async getBytes (k: K): Promise<Uint8Array | undefined> {
    return await this.store.getRaw(this.keyOf(k))
  }

  async put (k: K, v: V, opts: { sync?: boolean } = {}): Promise<void> {
    await this.store.putRaw(this.keyOf(k), this.codec.encode(v), opts)
  }

  async delete (ks: readonly K[]): Promise<void> {
    await this.store.delRaw(ks.map(k => this.keyOf(k)))
  }

  putOp (k: K, v: V): PutOp {
    return { key: this.keyOf(k), value: this.codec.encode(v) }
  }

  /** The entry with the highest key. */
  async last (): Promise<[K, V] | undefined> {
    const kv = await this.store.last(this.bucket)
    if (kv === undefined) return undefined
    const k = this.keyCodec.decode(kv[0].subarray(1))
    return [k, this.decode(k, kv[1])]
  }

  /** Stored bytes of the entries from key `from` on, in key order, at most `limit`. */
  async * bytesFrom (from: K, limit: number): AsyncGenerator<Uint8Array> {
    for await (const [, v] of this.store.iterate(this.bucket, { gte: this.keyOf(from), limit })) yield v
  }

  /** Every entry, decoded, in key order. */
  async * entries (): AsyncGenerator<[K, V]> {
    for await (const [kb, v] of this.store.iterate(this.bucket)) {
      const k = this.keyCodec.decode(kb.subarray(1))
      yield [k, this.decode(k, v)]
    }
  }
}
