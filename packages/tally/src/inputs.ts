import type { DeviceInfo, SegmentReport, TallyParams } from './types.js'

/** What the tally reads of a parsed network file (a `Network` of @ecandle/protocol is one). */
export interface NetworkLike {
  readonly def: { readonly emissionPerEpoch: string, readonly capexBps: number, readonly deviceCapMwhPerEpoch: string }
  readonly devices: ReadonlyMap<string, { readonly info: Omit<DeviceInfo, 'id'> }>
}

/** What the tally reads of a decoded report (a `DecodedReport` of @ecandle/protocol is one). */
export interface ReportLike {
  readonly id: string
  readonly report: Pick<SegmentReport, 'device' | 'counter' | 'periodStart' | 'periodEnd' | 'energyMwh' | 'solarMwh' | 'litS'>
}

/**
 * What a network's tally is computed from, shared by hubs (when they vote) and auditors (when they
 * check): the economic parameters and the device registry of the network file, and the reports of
 * each entry in (hub, seq, index) order.
 */
export function tallyParams (net: NetworkLike): TallyParams {
  return { emissionPerEpoch: BigInt(net.def.emissionPerEpoch), capexBps: net.def.capexBps, deviceCapMwhPerEpoch: BigInt(net.def.deviceCapMwhPerEpoch) }
}

export function tallyDevices (net: NetworkLike): Map<string, DeviceInfo> {
  const m = new Map<string, DeviceInfo>()
  for (const [id, d] of net.devices) m.set(id, { id, hub: d.info.hub, capex: d.info.capex, opex: d.info.opex, ratedWhPerDay: d.info.ratedWhPerDay })
  return m
}

/** The segment rows of one entry's reports. */
export function segmentRows (hub: string, seq: number, reports: readonly ReportLike[]): SegmentReport[] {
  return reports.map((d, index) => {
    const r = d.report
    return { hub, seq, index, reportId: d.id, device: r.device, counter: r.counter, periodStart: r.periodStart, periodEnd: r.periodEnd, energyMwh: r.energyMwh, solarMwh: r.solarMwh, litS: r.litS }
  })
}
