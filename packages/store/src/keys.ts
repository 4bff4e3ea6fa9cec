/**
 * The whole LevelDB layout. Every key starts with one bucket byte; integers are big-endian so
 * keys sort numerically. Values are the original signed bytes wherever something was signed.
 */
export enum Bucket {
  /** utf8 name -> value: 'schema' -> u32, 'network' -> utf8 network id, 'reports' -> u64 count */
  meta = 0x00,
  /** hub peer id (utf8) 0x00 seq (u64) -> signed entry bytes, as received */
  entry = 0x01,
  /** hub peer id (utf8) -> DAG-CBOR { seq, id: CID, time } of the log head */
  head = 0x02,
  /** device id (utf8) -> u64 highest counter of the device in its hub's log */
  deviceCounter = 0x03,
  /** device id (utf8) 0x00 counter (u64) -> seq (u32) index (u16) of the entry holding the report */
  reportIndex = 0x04,
  /** evidence id (32 bytes) -> evidence bytes */
  evidence = 0x05,
  /** certificate epoch (u64) -> certificate bytes, as verified on receipt (canonical DAG-CBOR) */
  certificate = 0x10,
  /** utf8 name ('state') -> consensus state of this validator (what it signed), DAG-CBOR */
  consensus = 0x11,
  /** epoch (u64) -> DAG-CBOR record of a decided epoch (rows, totals, state carried to the next; amounts as decimal strings) */
  epochRecord = 0x12,
  /** epoch (u64) -> DAG-CBOR [resolution bytes, …]: the resolutions the decided value of that epoch names, in its order */
  resolutions = 0x13,
  /** hex id (utf8) -> a governance message (operation, approval or resolution) waiting in the pool, as received */
  govPool = 0x14
}

/**
 * 3: the resolutions of each decided epoch and the governance pool (docs/governance.md §11). A
 * schema-2 database holds neither (hubs of schema 2 never decided a resolution), so 2 → 3 writes nothing.
 * 2: certificates are stored as verified on receipt (never verified again on read); consensus state
 * and epoch records are DAG-CBOR (schema 1 held them as JSON with `$big` tags).
 */
export const SCHEMA_VERSION = 3

const te = new TextEncoder()

export function u64 (n: number): Uint8Array {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, BigInt(n))
  return b
}

export function readU64 (b: Uint8Array, offset = 0): number {
  return Number(new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(offset))
}

export function key (bucket: Bucket, ...parts: Array<string | Uint8Array>): Uint8Array {
  const bytes = parts.map(p => typeof p === 'string' ? te.encode(p) : p)
  const out = new Uint8Array(1 + bytes.reduce((n, b) => n + b.byteLength, 0))
  out[0] = bucket
  let o = 1
  for (const b of bytes) { out.set(b, o); o += b.byteLength }
  return out
}

const SEP = Uint8Array.of(0)

export const keys = {
  meta: (name: string) => key(Bucket.meta, name),
  entry: (hub: string, seq: number) => key(Bucket.entry, hub, SEP, u64(seq)),
  head: (hub: string) => key(Bucket.head, hub),
  deviceCounter: (device: string) => key(Bucket.deviceCounter, device),
  reportIndex: (device: string, counter: number) => key(Bucket.reportIndex, device, SEP, u64(counter)),
  evidence: (id: Uint8Array) => key(Bucket.evidence, id),
  certificate: (epoch: number) => key(Bucket.certificate, u64(epoch)),
  consensus: (name: string) => key(Bucket.consensus, name),
  epochRecord: (epoch: number) => key(Bucket.epochRecord, u64(epoch)),
  resolutions: (epoch: number) => key(Bucket.resolutions, u64(epoch)),
  govPool: (id: string) => key(Bucket.govPool, id)
}

/** [gte, lt) bounds of all keys of a bucket, or of a bucket and a prefix. */
export function range (bucket: Bucket, ...prefix: Array<string | Uint8Array>): { gte: Uint8Array, lt: Uint8Array } {
  const gte = key(bucket, ...prefix)
  const lt = gte.slice()
  // Increment the last byte that is not 0xff (the prefix's upper bound).
  let i = lt.length - 1
  while (i >= 0 && lt[i] === 0xff) i--
  if (i < 0) throw new Error('range: prefix has no upper bound')
  lt[i]++
  return { gte, lt: lt.subarray(0, i + 1) }
}
