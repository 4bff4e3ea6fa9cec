import { CID, decodeEntry, decodeReport, type CutItem } from '@ecandle/protocol'
import type { Store } from '@ecandle/store'
import { segmentRows } from '@ecandle/audit'
import type { SegmentReport } from '@ecandle/tally'

/**
 * The segment of an epoch: every report in entries after the previous cut up to this cut, every hub,
 * in (hub, seq, index) order. Stored entries were validated on the way in, so they are only decoded.
 */
export async function loadSegment (store: Store, prev: readonly CutItem[] | null, cut: readonly CutItem[]): Promise<SegmentReport[]> {
  const out: SegmentReport[] = []
  for (let i = 0; i < cut.length; i++) {
    const { hub, seq: to } = cut[i]
    let from = (prev?.[i]?.seq ?? 0) + 1
    while (from <= to) {
      const page = await store.getEntries(hub, from, Math.min(256, to - from + 1))
      if (page.length === 0) throw new Error(`segment: entry ${hub}#${from} is not held`)
      for (const bytes of page) {
        const e = decodeEntry(bytes)
        out.push(...segmentRows(hub, e.payload.seq, e.payload.reports.map(decodeReport)))
        from = e.payload.seq + 1
      }
    }
  }
  return out
}

// JSON with bigints, Maps, bytes and CIDs, for records kept in LevelDB (CIDs use their own {"/": …} form).
export function toJson (x: unknown): string {
  return JSON.stringify(x, (_k, v) => typeof v === 'bigint'
    ? { $big: v.toString() }
    : v instanceof Map ? { $map: [...v] } : v instanceof Set ? { $set: [...v] } : v instanceof Uint8Array ? { $bytes: Buffer.from(v).toString('base64') } : v)
}

export function fromJson<T> (s: string): T {
  return JSON.parse(s, (_k, v) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      if (typeof v.$big === 'string') return BigInt(v.$big)
      if (Array.isArray(v.$map)) return new Map(v.$map)
      if (Array.isArray(v.$set)) return new Set(v.$set)
      if (typeof v.$bytes === 'string') return new Uint8Array(Buffer.from(v.$bytes, 'base64'))
      if (typeof v['/'] === 'string' && Object.keys(v).length === 1) return CID.parse(v['/'])
    }
    return v
  }) as T
}
