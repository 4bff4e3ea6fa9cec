import type { DecodedReport, Network } from '@ecandle/protocol'
import type { DeviceInfo, SegmentReport, TallyParams } from '@ecandle/tally'

/**
 * What a network's tally is computed from, shared by hubs (when they vote) and auditors (when they
 * check): the economic parameters and the device registry of the network file, and the reports of
 * each entry in (hub, seq, index) order.
 */
export function tallyParams (net: Network): TallyParams {
  return { emissionPerEpoch: BigInt(net.def.emissionPerEpoch), capexBps: net.def.capexBps, deviceCapMwhPerEpoch: BigInt(net.def.deviceCapMwhPerEpoch) }
}

export function tallyDevices (net: Network): Map<string, DeviceInfo> {
  const m = new Map<string, DeviceInfo>()
  for (const [id, d] of net.devices) m.set(id, { id, hub: d.info.hub, capex: d.info.capex, opex: d.info.opex, ratedWhPerDay: d.info.ratedWhPerDay })
  return m
}

/** The segment rows of one entry's reports. */
export function segmentRows (hub: string, seq: number, reports: readonly DecodedReport[]): SegmentReport[] {
  return reports.map((d, index) => {
    const r = d.report
    return { hub, seq, index, reportId: d.id, device: r.device, counter: r.counter, periodStart: r.periodStart, periodEnd: r.periodEnd, energyMwh: r.energyMwh, solarMwh: r.solarMwh, litS: r.litS }
  })
}
