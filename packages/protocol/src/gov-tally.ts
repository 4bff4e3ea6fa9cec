import type { DeviceInfo, TallyParams } from '@ecandle/tally'
import type { EpochState } from './gov-state.js'
import { epochStartMs, type Network } from './network.js'

/**
 * The tally's inputs in force during an epoch (docs/governance.md §7: the tally of E uses what was in
 * force during E), from the network state of that epoch. Hubs (when they vote) and auditors (when they
 * check) take them from here; for a network file alone, `tallyParams` / `tallyDevices` of @ecandle/tally.
 */
export function tallyParamsAt (s: EpochState): TallyParams {
  return { emissionPerEpoch: s.params.emissionPerEpoch, capexBps: s.params.capexBps, deviceCapMwhPerEpoch: s.params.deviceCapMwhPerEpoch }
}

/**
 * The registry in force during the epoch of `s`, as the tally takes it: retired devices marked, and
 * for a device registered or moved by governance (or carried into a continued network) the time its
 * registration at its hub took effect, so reports made before it count nothing there.
 */
export function tallyDevicesAt (net: Network, s: EpochState): Map<string, DeviceInfo> {
  const continued = net.def.continues !== undefined
  const m = new Map<string, DeviceInfo>()
  for (const d of s.registry.devices.values()) {
    const info: DeviceInfo = { id: d.id, hub: d.hub, capex: d.capex, opex: d.opex, ratedWhPerDay: d.ratedWhPerDay }
    if (d.retired !== null && d.retired <= s.epoch) info.retired = true
    if (d.from > 0 || continued) info.activeFromS = epochStartMs(net, d.from) / 1000
    m.set(d.id, info)
  }
  return m
}
