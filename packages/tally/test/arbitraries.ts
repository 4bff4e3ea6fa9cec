import fc from 'fast-check'
import type { DeviceInfo, SegmentReport, TallyInput, TallyState } from '../src/index.js'

export const HUBS = ['h0', 'h1', 'h2']
export const DEVICE_POOL = ['d0', 'd1', 'd2', 'd3', 'd4', 'd5']
export const ACCOUNTS = ['a0', 'a1', 'a2', 'a3']
const T0 = 1_700_000_000

export const registryArb: fc.Arbitrary<Map<string, DeviceInfo>> = fc
  .tuple(
    ...DEVICE_POOL.map((id) =>
      fc.option(
        fc.record({
          hub: fc.constantFrom(...HUBS),
          capex: fc.constantFrom(...ACCOUNTS),
          opex: fc.constantFrom(...ACCOUNTS),
          ratedWhPerDay: fc.constantFrom(0, 24, 48, 96),
          // Governance: sometimes retired, sometimes registered (at its hub) only from a later time.
          gov: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.nat(60) })
        }).map(({ gov, ...r }): DeviceInfo => ({ id, ...r, ...(gov === 1 ? { retired: true } : gov > 1 ? { activeFromS: T0 + gov * 3 * 3600 } : {}) })),
        { freq: 5 }
      )
    )
  )
  .map((ds) => new Map(ds.filter((d): d is DeviceInfo => d !== null).map((d) => [d.id, d])))

/**
 * Mostly plausible reports, mostly in the device's own hub log; a few broken
 * ones, duplicate ids and equivocations.
 */
export const reportArb = (devices: Map<string, DeviceInfo>): fc.Arbitrary<SegmentReport> =>
  fc
    .record({
      ownHub: fc.oneof({ weight: 8, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      hub: fc.constantFrom(...HUBS),
      seq: fc.nat(60),
      index: fc.nat(3),
      device: fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...DEVICE_POOL) }, { weight: 1, arbitrary: fc.constant('dx') }),
      counter: fc.nat(60),
      variant: fc.oneof({ weight: 15, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) }),
      energyMwh: fc.oneof({ weight: 20, arbitrary: fc.nat(2500) }, { weight: 1, arbitrary: fc.constantFrom(-1, 0.5, 1e6) }),
      hours: fc.oneof({ weight: 20, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.constantFrom(0, -1) }),
      litS: fc.oneof({ weight: 20, arbitrary: fc.nat(3600) }, { weight: 1, arbitrary: fc.constant(-1) })
    })
    .map(({ ownHub, hub, seq, index, device, counter, variant, energyMwh, hours, litS }) => {
      const periodStart = T0 + counter * 3 * 3600
      return {
        hub: ownHub ? (devices.get(device)?.hub ?? hub) : hub,
        seq,
        index,
        device,
        counter,
        // Same device+counter+variant => same signed bytes => same reportId (and same content).
        reportId: `${device}-${counter}-${variant}`,
        periodStart,
        periodEnd: periodStart + hours * 3600,
        energyMwh: variant === 0 ? energyMwh : energyMwh + 1,
        solarMwh: 100,
        litS
      }
    })

const posKey = (r: SegmentReport): string => `${r.hub}/${r.seq}/${r.index}`

export const segmentArb = (devices: Map<string, DeviceInfo>, maxLength = 300): fc.Arbitrary<SegmentReport[]> =>
  fc.uniqueArray(reportArb(devices), { maxLength, selector: posKey, size: 'max' }).map((seg) => {
    // Make same reportId => same content, as a real hash would.
    const first = new Map<string, SegmentReport>()
    return seg.map((r) => {
      const f = first.get(r.reportId)
      if (f === undefined) {
        first.set(r.reportId, r)
        return r
      }
      return { ...f, hub: r.hub, seq: r.seq, index: r.index }
    })
  })

export const paramsArb = fc.record({
  emissionPerEpoch: fc.oneof(fc.bigInt(0n, 10_000n), fc.bigInt(0n, 2n ** 90n)),
  capexBps: fc.integer({ min: 0, max: 10000 }),
  deviceCapMwhPerEpoch: fc.oneof(fc.bigInt(0n, 20_000n), fc.constant(2n ** 70n))
})

export const prevArb: fc.Arbitrary<TallyState> = fc.record({
  epoch: fc.integer({ min: -1, max: 5 }),
  dust: fc.oneof(fc.bigInt(0n, 100n), fc.bigInt(0n, 2n ** 70n)),
  cumulative: fc.array(fc.tuple(fc.constantFrom(...ACCOUNTS, 'old'), fc.bigInt(0n, 2n ** 80n)), { maxLength: 5 }).map((e) => new Map(e))
})

export const equivocatedArb = fc
  .array(fc.tuple(fc.constantFrom(...DEVICE_POOL), fc.nat(60)), { maxLength: 4 })
  .map((ks) => new Set(ks.map(([d, c]) => `${d}:${c}`)))

export const inputArb: fc.Arbitrary<TallyInput> = registryArb.chain((devices) =>
  fc
    .record({ params: paramsArb, segment: segmentArb(devices), prev: prevArb, equivocated: equivocatedArb })
    .map((r) => ({ ...r, devices, epoch: r.prev.epoch + 1 }))
)
