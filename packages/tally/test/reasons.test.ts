import assert from 'node:assert/strict'
import { explain, genesisState, tally, type ReportStatus, type SegmentReport, type TallyInput } from '../src/index.js'
import { HOUR, PARAMS, T0, dev, registry, rep, state } from './fixtures.js'

function input (segment: SegmentReport[], over: Partial<TallyInput> = {}): TallyInput {
  return {
    epoch: 0,
    params: PARAMS,
    devices: registry(dev('d1', 'h1', 'aa', 'bb'), dev('d2', 'h1', 'aa', 'cc'), dev('d3', 'h2', 'cc', 'dd')),
    segment,
    prev: genesisState(),
    equivocated: new Set(),
    ...over
  }
}

function brief (s: ReportStatus): string {
  return `${s.hub}/${s.seq}/${s.index}:${s.reason ?? `counted ${s.countedMwh}${s.partial ? ' partial' : ''}`}`
}

function run (segment: SegmentReport[], over: Partial<TallyInput> = {}): string[] {
  return tally(input(segment, over)).statuses.map(brief)
}

describe('reason codes', () => {
  it('counts a good report', () => {
    assert.deepEqual(run([rep('h1', 1, 0, 'd1', 1, 500)]), ['h1/1/0:counted 500'])
  })

  it('unregistered: device not in the registry', () => {
    assert.deepEqual(run([rep('h1', 1, 0, 'zz', 1, 500)]), ['h1/1/0:unregistered'])
  })

  it('wrong-hub: device registered to another hub', () => {
    assert.deepEqual(run([rep('h2', 1, 0, 'd1', 5, 500)]), ['h2/1/0:wrong-hub'])
  })

  it('duplicate: same device+counter and same reportId as an earlier report', () => {
    assert.deepEqual(run([rep('h1', 1, 0, 'd1', 1, 500, 'x'), rep('h1', 2, 0, 'd1', 1, 500, 'x'), rep('h1', 2, 1, 'd1', 1, 500, 'x')]), [
      'h1/1/0:counted 500',
      'h1/2/0:duplicate',
      'h1/2/1:duplicate'
    ])
  })

  it('a wrong-hub copy does not make the right-hub copy a duplicate, whatever comes first', () => {
    // h0 sorts before h1, so the wrong-hub copy is seen first.
    assert.deepEqual(run([rep('h1', 1, 0, 'd1', 1, 500, 'x'), rep('h0', 1, 0, 'd1', 1, 500, 'x')]), ['h0/1/0:wrong-hub', 'h1/1/0:counted 500'])
  })

  it('equivocated: same device+counter, different reportId in the segment -> all of them count nothing', () => {
    const r = tally(input([rep('h1', 1, 0, 'd1', 4, 500, 'x'), rep('h1', 1, 1, 'd1', 4, 600, 'y'), rep('h1', 1, 2, 'd1', 4, 500, 'x')]))
    assert.deepEqual(r.statuses.map(brief), ['h1/1/0:equivocated', 'h1/1/1:equivocated', 'h1/1/2:equivocated'])
    assert.equal(r.totals.countedMwh, 0n)
  })

  it('equivocated: listed in the evidence set', () => {
    const r = run([rep('h1', 1, 0, 'd1', 4, 500), rep('h1', 1, 1, 'd1', 5, 500)], { equivocated: new Set(['d1:4', 'd2:9', 'junk', 'd1:04']) })
    assert.deepEqual(r, ['h1/1/0:equivocated', 'h1/1/1:counted 500'])
  })

  it('equivocated by a copy in another hub log (device signed two reports with one counter)', () => {
    assert.deepEqual(run([rep('h1', 1, 0, 'd1', 4, 500, 'x'), rep('h2', 1, 0, 'd1', 4, 500, 'y')]), ['h1/1/0:equivocated', 'h2/1/0:equivocated'])
  })

  it('late report: a counter below counters counted in earlier epochs is counted in the epoch that logs it', () => {
    const e0 = tally(input([rep('h1', 1, 0, 'd1', 7, 500), rep('h1', 1, 1, 'd1', 8, 500)]))
    assert.deepEqual(e0.statuses.map(brief), ['h1/1/0:counted 500', 'h1/1/1:counted 500'])
    // Counter 6 was not acknowledged in epoch 0; the device resends it and h1 logs it in epoch 1.
    const e1 = tally(input([rep('h1', 2, 0, 'd1', 6, 300), rep('h1', 2, 1, 'd1', 9, 200)], { epoch: 1, prev: e0.next }))
    assert.deepEqual(e1.statuses.map(brief), ['h1/2/0:counted 300', 'h1/2/1:counted 200'])
    assert.deepEqual(e1.devices.map((d) => [d.device, d.countedMwh, d.reward]), [['d1', 500n, 1000n]])
    assert.deepEqual(e1.accounts.map((a) => [a.account, a.epochAmount, a.cumulative]), [['aa', 250n, 500n], ['bb', 750n, 1500n]])
  })

  it('counters may go backwards inside one segment', () => {
    assert.deepEqual(run([rep('h1', 1, 0, 'd1', 9, 500), rep('h1', 2, 0, 'd1', 3, 500)]), ['h1/1/0:counted 500', 'h1/2/0:counted 500'])
  })

  it('cross-epoch uniqueness is the log\'s job (chain rule counter-reused): the tally keeps no counter history', () => {
    // Such a segment cannot come out of validated logs; fed anyway, the tally judges it on its own.
    const e0 = tally(input([rep('h1', 1, 0, 'd1', 4, 500, 'x')]))
    const e1 = tally(input([rep('h1', 2, 0, 'd1', 4, 500, 'x')], { epoch: 1, prev: e0.next }))
    assert.deepEqual(e1.statuses.map(brief), ['h1/2/0:counted 500'])
    assert.deepEqual(Object.keys(e1.next).sort(), ['cumulative', 'dust', 'epoch'])
  })

  describe('implausible', () => {
    // d1 is rated 24 Wh/day: bound for one hour = 24*1000*(3600/86400)*2 = 2000 mWh.
    it('energy exactly at the bound counts, one mWh more is implausible', () => {
      assert.deepEqual(run([rep('h1', 1, 0, 'd1', 1, 2000), rep('h1', 1, 1, 'd2', 1, 2001)]), ['h1/1/0:counted 2000', 'h1/1/1:implausible'])
    })
    const bad: [string, Partial<SegmentReport>][] = [
      ['period end == start', { periodEnd: T0 + 1 * HOUR }],
      ['period end < start', { periodEnd: T0 }],
      ['negative energy', { energyMwh: -1 }],
      ['negative solar', { solarMwh: -1 }],
      ['negative litS', { litS: -5 }],
      ['fractional energy', { energyMwh: 10.5 }],
      ['NaN energy', { energyMwh: Number.NaN }],
      ['infinite solar', { solarMwh: Number.POSITIVE_INFINITY }],
      ['negative counter', { counter: -1 }],
      ['fractional counter', { counter: 1.5 }],
      ['fractional period', { periodStart: T0 + HOUR + 0.5 }]
    ]
    for (const [name, patch] of bad) {
      it(name, () => {
        const r = tally(input([{ ...rep('h1', 1, 0, 'd1', 1, 100), ...patch }]))
        assert.equal(r.statuses[0].reason, 'implausible')
        assert.equal(r.totals.countedMwh, 0n)
      })
    }
    it('a device with an invalid rating has every report implausible', () => {
      const r = run([rep('h1', 1, 0, 'd1', 1, 0)], { devices: registry(dev('d1', 'h1', 'aa', 'bb', -1)) })
      assert.deepEqual(r, ['h1/1/0:implausible'])
    })
    it('a whole day uses the exact integer comparison (no float drift)', () => {
      // 1 Wh/day over one day => bound 2000 mWh.
      const r = tally(input([{ ...rep('h1', 1, 0, 'd1', 1, 2000), periodStart: T0, periodEnd: T0 + 86400 }, { ...rep('h1', 1, 1, 'd1', 2, 2001), periodStart: T0 + 86400, periodEnd: T0 + 2 * 86400 }], {
        devices: registry(dev('d1', 'h1', 'aa', 'bb', 1)),
        params: { ...PARAMS, deviceCapMwhPerEpoch: 100000n }
      }))
      assert.deepEqual(r.statuses.map(brief), ['h1/1/0:counted 2000', 'h1/1/1:implausible'])
    })
    it('the protocol\'s rule: a period longer than a day, or lit longer than its period, is implausible', () => {
      const day = { ...rep('h1', 1, 0, 'd1', 1, 0), periodStart: T0, periodEnd: T0 + 86400 }
      const r = tally(input([day, { ...day, index: 1, counter: 2, reportId: 'long', periodEnd: T0 + 86401 }, { ...rep('h1', 1, 2, 'd1', 3, 0), reportId: 'lit', litS: HOUR + 1 }]))
      assert.deepEqual(r.statuses.map(brief), ['h1/1/0:counted 0', 'h1/1/1:implausible', 'h1/1/2:implausible'])
    })
  })

  it('over-cap: the crossing report counts partially, later ones nothing', () => {
    // cap 3000
    const r = tally(input([rep('h1', 1, 0, 'd1', 1, 2000), rep('h1', 1, 1, 'd1', 2, 1500), rep('h1', 1, 2, 'd1', 3, 10), rep('h1', 1, 3, 'd2', 1, 10)]))
    assert.deepEqual(r.statuses.map(brief), ['h1/1/0:counted 2000', 'h1/1/1:counted 1000 partial', 'h1/1/2:over-cap', 'h1/1/3:counted 10'])
    assert.equal(r.devices[0].countedMwh, 3000n)
  })

  it('cap 0: nothing ever counts, all emission becomes dust', () => {
    const r = tally(input([rep('h1', 1, 0, 'd1', 1, 5)], { params: { ...PARAMS, deviceCapMwhPerEpoch: 0n } }))
    assert.deepEqual(r.statuses.map(brief), ['h1/1/0:over-cap'])
    assert.equal(r.totals.dust, 1000n)
  })

  describe('precedence: unregistered > equivocated > wrong-hub > implausible > duplicate > over-cap', () => {
    it('unregistered beats equivocated', () => {
      assert.deepEqual(run([rep('h1', 1, 0, 'zz', 1, 5, 'x'), rep('h1', 1, 1, 'zz', 1, 5, 'y')]), ['h1/1/0:unregistered', 'h1/1/1:unregistered'])
    })
    it('equivocated beats wrong-hub, implausible and duplicate', () => {
      const segment = [rep('h2', 1, 0, 'd1', 3, 5, 'x'), rep('h1', 1, 0, 'd1', 3, 99999, 'y'), rep('h1', 1, 1, 'd1', 3, 5, 'z'), rep('h1', 1, 2, 'd1', 3, 5, 'z')]
      assert.deepEqual(run(segment), ['h1/1/0:equivocated', 'h1/1/1:equivocated', 'h1/1/2:equivocated', 'h2/1/0:equivocated'])
    })
    it('wrong-hub beats implausible', () => {
      assert.deepEqual(run([rep('h2', 1, 0, 'd1', 1, 99999)]), ['h2/1/0:wrong-hub'])
    })
    it('implausible beats duplicate (an implausible copy does not use up the counter)', () => {
      assert.deepEqual(run([rep('h1', 1, 0, 'd1', 3, 99999, 'x'), rep('h1', 1, 1, 'd1', 3, 99999, 'x')]), ['h1/1/0:implausible', 'h1/1/1:implausible'])
    })
    it('duplicate beats over-cap', () => {
      const params = { ...PARAMS, deviceCapMwhPerEpoch: 2000n }
      assert.deepEqual(run([rep('h1', 1, 0, 'd1', 1, 2000, 'x'), rep('h1', 1, 1, 'd1', 1, 2000, 'x'), rep('h1', 1, 2, 'd1', 2, 1)], { params }), [
        'h1/1/0:counted 2000',
        'h1/1/1:duplicate',
        'h1/1/2:over-cap'
      ])
    })
  })

  describe('rewards and state', () => {
    it('nothing counted: the whole distributable amount is carried as dust', () => {
      const r = tally(input([rep('h1', 1, 0, 'zz', 1, 5)], { epoch: 4, prev: state(3, 7n, [['aa', 1n]]) }))
      assert.equal(r.totals.paid, 0n)
      assert.equal(r.totals.dust, 1007n)
      assert.equal(r.next.dust, 1007n)
      assert.deepEqual(r.accounts, [{ account: 'aa', epochAmount: 0n, cumulative: 1n }])
      assert.deepEqual(r.devices, [])
    })
    it('empty segment still produces a summary leaf and a root', () => {
      const r = tally(input([]))
      assert.match(r.root, /^[0-9a-f]{64}$/)
      assert.equal(r.totals.dust, 1000n)
    })
    it('capex and opex to the same account accumulate into one row', () => {
      const r = tally(input([rep('h1', 1, 0, 'd1', 1, 100)], { devices: registry(dev('d1', 'h1', 'aa', 'aa')) }))
      assert.deepEqual(r.accounts, [{ account: 'aa', epochAmount: 1000n, cumulative: 1000n }])
      assert.deepEqual([r.devices[0].capex, r.devices[0].opex], [250n, 750n])
    })
    it('capexBps 0 and 10000', () => {
      for (const [bps, capex] of [[0, 0n], [10000, 1000n]] as const) {
        const r = tally(input([rep('h1', 1, 0, 'd1', 1, 100)], { params: { ...PARAMS, capexBps: bps } }))
        assert.equal(r.devices[0].capex, capex)
        assert.equal(r.devices[0].opex, 1000n - capex)
      }
    })
    it('amounts far beyond 64 bits stay exact', () => {
      const emission = 10n ** 40n + 7n
      const r = tally(input([rep('h1', 1, 0, 'd1', 1, 1), rep('h1', 1, 1, 'd2', 1, 2)], { params: { ...PARAMS, emissionPerEpoch: emission } }))
      assert.equal(r.devices[0].reward, emission / 3n)
      assert.equal(r.devices[1].reward, (emission * 2n) / 3n)
      assert.equal(r.totals.paid + r.totals.dust, emission)
    })
    it('does not mutate its input', () => {
      const inp = input([rep('h1', 2, 0, 'd1', 2, 5), rep('h1', 1, 0, 'd1', 1, 5)], { epoch: 1, prev: state(0, 3n, [['aa', 1n]]) })
      const before = JSON.stringify(inp, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Map || v instanceof Set ? [...v] : v))
      tally(inp)
      const after = JSON.stringify(inp, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Map || v instanceof Set ? [...v] : v))
      assert.equal(after, before)
    })
  })

  describe('malformed input throws', () => {
    it('epoch must follow prev.epoch', () => {
      assert.throws(() => tally(input([], { epoch: 2 })), RangeError)
      assert.throws(() => tally(input([], { epoch: 5, prev: state(5) })), RangeError)
    })
    it('two entries at one (hub, seq, index)', () => {
      assert.throws(() => tally(input([rep('h1', 1, 0, 'd1', 1, 5), rep('h1', 1, 0, 'd1', 2, 5)])), /duplicate segment position/)
    })
    it('bad params', () => {
      assert.throws(() => tally(input([], { params: { ...PARAMS, capexBps: 10001 } })), RangeError)
      assert.throws(() => tally(input([], { params: { ...PARAMS, capexBps: 0.5 } })), RangeError)
      assert.throws(() => tally(input([], { params: { ...PARAMS, emissionPerEpoch: -1n } })), RangeError)
      assert.throws(() => tally(input([], { params: { ...PARAMS, deviceCapMwhPerEpoch: -1n } })), RangeError)
      assert.throws(() => tally(input([], { prev: { ...genesisState(), dust: -1n } })), RangeError)
    })
    it('bad seq/index', () => {
      assert.throws(() => tally(input([{ ...rep('h1', 1, 0, 'd1', 1, 5), seq: -1 }])), RangeError)
      assert.throws(() => tally(input([{ ...rep('h1', 1, 0, 'd1', 1, 5), index: 0.5 }])), RangeError)
    })
  })

  it('explain lists a device\'s reports and its reward arithmetic', () => {
    const r = tally(input([rep('h1', 1, 0, 'd1', 1, 100), rep('h1', 1, 1, 'd1', 1, 100, 'other'), rep('h1', 1, 2, 'd2', 1, 300)]))
    const e = explain(r, 'd2')
    assert.equal(e.row?.reward, 1000n)
    assert.deepEqual(e.byStatus, { counted: 1 })
    assert.match(e.text, /floor\(1000 \* 300 \/ 300\) = 1000/)
    const e1 = explain(r, 'd1')
    assert.equal(e1.row, null)
    assert.deepEqual(e1.byStatus, { equivocated: 2 })
    assert.equal(e1.reports.length, 2)
  })
})
describe('reason codes under governance (registry in force during the epoch)', () => {
  it('retired: a device retired in this epoch\'s registry counts nothing, wherever it reports', () => {
    const devices = registry({ ...dev('d1', 'h1', 'aa', 'bb'), retired: true }, dev('d2', 'h1', 'aa', 'cc'))
    assert.deepEqual(run([rep('h1', 1, 0, 'd1', 1, 500), rep('h2', 1, 0, 'd1', 2, 500), rep('h1', 2, 0, 'd2', 1, 500)], { devices }), ['h1/1/0:retired', 'h1/2/0:counted 500', 'h2/1/0:retired'])
  })

  it('not-yet-registered: a report whose period starts before the registration (or the move to this hub) took effect', () => {
    const from = T0 + 2 * HOUR
    const devices = registry({ ...dev('d1', 'h1', 'aa', 'bb'), activeFromS: from })
    const before = rep('h1', 1, 0, 'd1', 1, 500)
    const after = { ...rep('h1', 1, 1, 'd1', 2, 500), periodStart: from, periodEnd: from + HOUR }
    assert.ok(before.periodStart < from)
    assert.deepEqual(run([before, after], { devices }), ['h1/1/0:not-yet-registered', 'h1/1/1:counted 500'])
    // At the hub it moved away from, wrong-hub comes first.
    assert.deepEqual(run([{ ...after, hub: 'h0' }], { devices }), ['h0/1/1:wrong-hub'])
  })

  it('without the governance fields nothing changes (the worked example keeps its root)', () => {
    const devices = registry({ ...dev('d1', 'h1', 'aa', 'bb'), activeFromS: undefined, retired: undefined })
    assert.deepEqual(run([rep('h1', 1, 0, 'd1', 1, 500)], { devices }), ['h1/1/0:counted 500'])
  })
})
