import { CID, decodeEntry, decodeReport, type CutItem, type Network } from '@ecandle/protocol'
import type { Store } from '@ecandle/store'
import type { DeviceInfo, SegmentReport, TallyParams } from '@ecandle/tally'

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
        e.payload.reports.forEach((rb, index) => {
          const d = decodeReport(rb)
          const r = d.report
          out.push({ hub, seq: e.payload.seq, index, reportId: d.id, device: r.device, counter: r.counter, periodStart: r.periodStart, periodEnd: r.periodEnd, energyMwh: r.energyMwh, solarMwh: r.solarMwh, litS: r.litS })
        })
        from = e.payload.seq + 1
      }
    }
  }
  return out
}

export function tallyParams (net: Network): TallyParams {
  return { emissionPerEpoch: BigInt(net.def.emissionPerEpoch), capexBps: net.def.capexBps, deviceCapMwhPerEpoch: BigInt(net.def.deviceCapMwhPerEpoch) }
}

export function tallyDevices (net: Network): Map<string, DeviceInfo> {
  const m = new Map<string, DeviceInfo>()
  for (const [id, d] of net.devices) m.set(id, { id, hub: d.info.hub, capex: d.info.capex, opex: d.info.opex, ratedWhPerDay: d.info.ratedWhPerDay })
  return m
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
