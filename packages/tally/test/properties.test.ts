import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  decodeLeaf,
  encodeAccountLeaf,
  proofLeaf,
  proveAccount,
  proveDevice,
  proveSummary,
  tally,
  verifyAccountProof,
  verifyProof,
  type LeafProof,
  type SegmentReport,
  type TallyInput
} from '../src/index.js'
import { inputArb, paramsArb, prevArb, registryArb, segmentArb, equivocatedArb } from './arbitraries.js'
import { model } from './model.js'

const RUNS = { numRuns: 200 }

function sum (xs: bigint[]): bigint {
  return xs.reduce((a, b) => a + b, 0n)
}

function reversedMaps (input: TallyInput): TallyInput {
  return {
    ...input,
    devices: new Map([...input.devices].reverse()),
    equivocated: new Set([...input.equivocated].reverse()),
    prev: {
      ...input.prev,
      cumulative: new Map([...input.prev.cumulative].reverse())
    }
  }
}

function flipBit (hex: string, bit: number): string {
  const bytes = Buffer.from(hex, 'hex')
  bytes[(bit >> 3) % bytes.length] ^= 1 << (bit & 7)
  return bytes.toString('hex')
}

describe('properties (fast-check)', () => {
  it('agrees with the naive reference model', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const r = tally(input)
        const m = model(input)
        assert.deepEqual(
          r.statuses.map((s) => ({ key: `${s.hub}/${s.seq}/${s.index}`, reason: s.reason, counted: BigInt(s.countedMwh) })),
          m.statuses
        )
        assert.deepEqual(r.devices.map((d) => [d.device, d.countedMwh, d.reward, d.capex, d.opex]), m.devices)
        assert.deepEqual(r.accounts.map((a) => [a.account, a.epochAmount, a.cumulative]), m.accounts)
        assert.equal(r.totals.dust, m.dust)
      }),
      RUNS
    )
  })

  it('conservation: Σ payouts + new dust = emission + prev dust, exactly', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const r = tally(input)
        const { emissionPerEpoch } = input.params
        const rewards = sum(r.devices.map((d) => d.reward))
        const payouts = sum(r.accounts.map((a) => a.epochAmount))
        assert.equal(payouts + r.totals.dust, emissionPerEpoch + input.prev.dust)
        assert.equal(rewards, payouts)
        assert.equal(r.totals.paid, payouts)
        assert.equal(r.next.dust, r.totals.dust)
        assert.ok(r.totals.dust >= 0n)
        // Each floor loses < 1 unit, so dust < number of rewarded devices (or everything when nothing counted).
        if (r.devices.length === 0) assert.equal(r.totals.dust, emissionPerEpoch + input.prev.dust)
        else assert.ok(r.totals.dust < BigInt(r.devices.length))
        for (const d of r.devices) {
          assert.equal(d.capex + d.opex, d.reward)
          assert.equal(d.capex, (d.reward * BigInt(input.params.capexBps)) / 10000n)
          assert.ok(d.countedMwh > 0n && d.countedMwh <= input.params.deviceCapMwhPerEpoch)
        }
        assert.equal(sum(r.statuses.map((s) => BigInt(s.countedMwh))), r.totals.countedMwh)
        assert.equal(sum(r.devices.map((d) => d.countedMwh)), r.totals.countedMwh)
        assert.equal(r.statuses.length, input.segment.length)
        for (const s of r.statuses) assert.equal(s.status === 'counted', s.reason === null)
      }),
      RUNS
    )
  })

  it('any permutation of the segment (and of map/set insertion order) gives the same result and root', () => {
    const arb = inputArb.chain((input) =>
      fc.tuple(fc.constant(input), fc.shuffledSubarray(input.segment, { minLength: input.segment.length, maxLength: input.segment.length }))
    )
    fc.assert(
      fc.property(arb, ([input, shuffled]) => {
        const a = tally(input)
        const b = tally(reversedMaps({ ...input, segment: shuffled }))
        assert.equal(b.root, a.root)
        assert.deepEqual(b.statuses, a.statuses)
        assert.deepEqual(b.devices, a.devices)
        assert.deepEqual(b.accounts, a.accounts)
        assert.deepEqual(b.totals, a.totals)
        assert.deepEqual([...b.next.cumulative], [...a.next.cumulative])
      }),
      RUNS
    )
  })

  it('every account proof verifies and fails for an altered amount, leaf byte or path hash', () => {
    const arb = fc.tuple(inputArb, fc.nat(), fc.nat(), fc.nat(), fc.bigInt(1n, 2n ** 70n))
    let checkedPaths = 0
    fc.assert(
      fc.property(arb, ([input, bytePick, bitPick, stepPick, delta]) => {
        const r = tally(input)
        for (const row of r.accounts) {
          const p = proveAccount(r, row.account)
          assert.equal(verifyProof(p, r.root), true)
          assert.equal(p.root, r.root)
          assert.deepEqual(proofLeaf(p), { k: 'a', account: row.account, epoch: r.epoch, amount: row.epochAmount, cumulative: row.cumulative })
          assert.deepEqual(verifyAccountProof(p, r.root), decodeLeaf(p.leaf))

          // altered amount / cumulative, re-encoded canonically
          const amt = encodeAccountLeaf({ account: row.account, epoch: r.epoch, amount: row.epochAmount + delta, cumulative: row.cumulative + delta })
          assert.equal(verifyProof({ ...p, leaf: amt }, r.root), false)
          const cum = encodeAccountLeaf({ account: row.account, epoch: r.epoch, amount: row.epochAmount, cumulative: row.cumulative + delta })
          assert.equal(verifyProof({ ...p, leaf: cum }, r.root), false)
          assert.equal(verifyAccountProof({ ...p, leaf: cum }, r.root), undefined)

          // altered leaf byte
          const leaf = p.leaf.slice()
          leaf[bytePick % leaf.length] ^= 1 << (bitPick & 7)
          assert.equal(verifyProof({ ...p, leaf }, r.root), false)

          // altered path hash (a tree with a single leaf has no path)
          if (p.path.length > 0) {
            checkedPaths++
            const path = p.path.map((s) => ({ ...s }))
            const i = stepPick % path.length
            path[i].hash = flipBit(path[i].hash, bitPick)
            assert.equal(verifyProof({ ...p, path }, r.root), false)
            const swapped = p.path.map((s, j) => (j === i ? { ...s, side: s.side === 'left' ? ('right' as const) : ('left' as const) } : s))
            assert.equal(verifyProof({ ...p, path: swapped }, r.root), false)
            assert.equal(verifyProof({ ...p, path: p.path.slice(1) }, r.root), false)
          }
          // altered root
          assert.equal(verifyProof(p, flipBit(r.root, bitPick)), false)
        }
        for (const d of r.devices) {
          const p = proveDevice(r, d.device)
          assert.equal(verifyProof(p, r.root), true)
          assert.deepEqual(proofLeaf(p), { k: 'd', device: d.device, epoch: r.epoch, mwh: d.countedMwh, reward: d.reward, capex: d.capex, opex: d.opex })
          assert.equal(verifyAccountProof(p, r.root), undefined, 'device leaf is not an account leaf')
        }
        const s = proveSummary(r)
        assert.equal(verifyProof(s, r.root), true)
        assert.deepEqual(proofLeaf(s), { k: 's', epoch: r.epoch, mwh: r.totals.countedMwh, paid: r.totals.paid, dust: r.totals.dust, emission: input.params.emissionPerEpoch })
      }),
      RUNS
    )
    assert.ok(checkedPaths > 100, `path tampering exercised only ${checkedPaths} times`)
  })

  it('cumulative(E) = cumulative(E-1) + epoch amount, for every account', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const r = tally(input)
        const rows = new Map(r.accounts.map((a) => [a.account, a]))
        for (const a of input.prev.cumulative.keys()) assert.ok(rows.has(a), `account ${a} dropped`)
        for (const a of r.accounts) {
          assert.equal(a.cumulative, (input.prev.cumulative.get(a.account) ?? 0n) + a.epochAmount)
          assert.equal(r.next.cumulative.get(a.account), a.cumulative)
        }
        assert.equal(r.next.cumulative.size, r.accounts.length)
      }),
      RUNS
    )
  })

  it('epoch-by-epoch tallies of valid logs: late reports with lower counters are counted, totals telescope', () => {
    const arb = registryArb.chain((devices) =>
      fc.record({
        params: paramsArb,
        devices: fc.constant(devices),
        prev: prevArb,
        equivocated: equivocatedArb,
        segments: fc.array(segmentArb(devices, 150), { minLength: 2, maxLength: 4 })
      })
    )
    let lateCounted = 0
    fc.assert(
      fc.property(arb, ({ params, devices, prev, equivocated, segments }) => {
        let state = prev
        let totalEmission = 0n
        const totalPaid = new Map<string, bigint>()
        // (device, counter) pairs already in the logs of earlier epochs.
        const logged = new Set<string>()
        // device -> highest counter counted in an earlier epoch.
        const highestCounted = new Map<string, number>()
        for (let e = 0; e < segments.length; e++) {
          // A valid log never takes a (device, counter) twice (chain rule counter-reused), so
          // drop what earlier epochs already logged; what is left is new or a late resend.
          const segment: SegmentReport[] = segments[e].filter((r) => !logged.has(`${r.device}:${r.counter}`))
          const input: TallyInput = { epoch: state.epoch + 1, params, devices, segment, prev: state, equivocated }
          const r = tally(input)
          // The reference model knows nothing of earlier epochs: statuses depend on the segment alone.
          const m = model(input)
          assert.deepEqual(
            r.statuses.map((s) => ({ key: `${s.hub}/${s.seq}/${s.index}`, reason: s.reason, counted: BigInt(s.countedMwh) })),
            m.statuses
          )
          assert.deepEqual(r.accounts.map((a) => [a.account, a.epochAmount, a.cumulative]), m.accounts)
          // Late reports (counter below one counted in an earlier epoch) are counted, and their
          // energy is in the device's row of this epoch.
          const perDevice = new Map<string, bigint>()
          for (const s of r.statuses) {
            const high = highestCounted.get(s.device)
            if (s.status === 'counted' && high !== undefined && s.counter < high) lateCounted++
            if (s.countedMwh > 0) perDevice.set(s.device, (perDevice.get(s.device) ?? 0n) + BigInt(s.countedMwh))
          }
          assert.deepEqual(r.devices.map((d) => [d.device, d.countedMwh]), [...perDevice].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
          for (const s of r.statuses) {
            if (s.status === 'counted') highestCounted.set(s.device, Math.max(highestCounted.get(s.device) ?? -1, s.counter))
          }
          for (const x of segment) logged.add(`${x.device}:${x.counter}`)
          totalEmission += params.emissionPerEpoch
          for (const a of r.accounts) totalPaid.set(a.account, (totalPaid.get(a.account) ?? 0n) + a.epochAmount)
          assert.equal(r.next.epoch, input.epoch)
          state = r.next
        }
        // telescoping: everything ever distributed is accounted for
        assert.equal(sum([...totalPaid.values()]) + state.dust, totalEmission + prev.dust)
        for (const [a, paid] of totalPaid) assert.equal(state.cumulative.get(a), (prev.cumulative.get(a) ?? 0n) + paid)
      }),
      RUNS
    )
    assert.ok(lateCounted > 200, `late reports counted only ${lateCounted} times`)
  })

  it('proof objects survive a JSON round trip (hex hashes, leaf as hex)', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const r = tally(input)
        for (const a of r.accounts.slice(0, 2)) {
          const p = proveAccount(r, a.account)
          const wire = JSON.stringify({ ...p, leaf: Buffer.from(p.leaf).toString('hex') })
          const back = JSON.parse(wire) as Omit<LeafProof, 'leaf'> & { leaf: string }
          assert.equal(verifyProof({ ...back, leaf: new Uint8Array(Buffer.from(back.leaf, 'hex')) }, r.root), true)
        }
      }),
      { numRuns: 50 }
    )
  })
})
