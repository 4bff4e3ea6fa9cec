import type { DeviceInfo, SegmentReport, TallyInput, TallyParams, TallyState } from '../src/index.js'

export const T0 = 1_700_000_000
export const HOUR = 3600

export function dev (id: string, hub: string, capex: string, opex: string, ratedWhPerDay = 24): DeviceInfo {
  return { id, hub, capex, opex, ratedWhPerDay }
}

export function registry (...ds: DeviceInfo[]): Map<string, DeviceInfo> {
  return new Map(ds.map((d) => [d.id, d]))
}

/** One-hour report; `slot` picks the hour. */
export function rep (
  hub: string,
  seq: number,
  index: number,
  device: string,
  counter: number,
  energyMwh: number,
  reportId = `${device}-${counter}`,
  slot = counter
): SegmentReport {
  const periodStart = T0 + slot * HOUR
  return { hub, seq, index, reportId, device, counter, periodStart, periodEnd: periodStart + HOUR, energyMwh, solarMwh: energyMwh, litS: 1800 }
}

export function state (epoch: number, dust = 0n, cumulative: [string, bigint][] = []): TallyState {
  return { epoch, dust, cumulative: new Map(cumulative) }
}

export const PARAMS: TallyParams = { emissionPerEpoch: 1000n, capexBps: 2500, deviceCapMwhPerEpoch: 3000n }

/**
 * The worked example of README.md (epoch 7). From epoch 6, h1's log already
 * holds d1's counters 10 and 11 and h2's log d3's counters 7 and 8; r01 (d1
 * counter 9) and r13 (d3 counter 6) are late resends logged now, and count.
 */
export function workedExample (): TallyInput {
  return {
    epoch: 7,
    params: PARAMS,
    devices: registry(dev('d1', 'h1', 'aaaa', 'bbbb'), dev('d2', 'h1', 'aaaa', 'cccc'), dev('d3', 'h2', 'cccc', 'dddd')),
    prev: state(6, 1n, [['aaaa', 5000n], ['bbbb', 300n], ['eeee', 42n]]),
    equivocated: new Set(['d2:3']),
    segment: [
      rep('h1', 1, 0, 'd1', 9, 600, 'r01'),
      rep('h1', 1, 1, 'd1', 12, 1800, 'r02'),
      rep('h1', 2, 0, 'd1', 13, 1500, 'r03'),
      rep('h1', 2, 1, 'd1', 14, 900, 'r04'),
      rep('h1', 3, 0, 'd2', 1, 1000, 'r05'),
      rep('h1', 3, 1, 'd2', 1, 1000, 'r05'),
      rep('h1', 4, 0, 'd2', 2, 2500, 'r07'),
      rep('h1', 5, 0, 'd2', 3, 800, 'r08'),
      rep('h2', 1, 0, 'd3', 5, 700, 'r09'),
      rep('h2', 1, 1, 'd3', 5, 700, 'r10'),
      rep('h2', 2, 0, 'd9', 1, 400, 'r11'),
      rep('h2', 2, 1, 'd1', 15, 500, 'r12'),
      rep('h2', 3, 0, 'd3', 6, 500, 'r13')
    ]
  }
}
