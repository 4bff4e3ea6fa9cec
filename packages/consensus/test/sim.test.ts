import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Tendermint, type TendermintOptions } from '../src/index.js'
import { chainConfig, simConfig } from './arb.js'
import { chainDeadline, livenessDeadline, simulate, simulateChain, type ChainConfig, type SimConfig, type SimOptions } from './sim.js'

/** Runs one schedule and throws (with the replayable config and the trace tail) if a property fails. */
function check (cfg: SimConfig, opts: SimOptions = {}): void {
  const r = simulate(cfg, opts)
  const problems = [...r.violations]
  if (problems.length === 0) {
    for (const id of r.honest) {
      const d = r.decisions.get(id)
      const deadline = livenessDeadline(cfg, r.roundAtGst)
      if (!d) problems.push(`liveness: ${id} did not decide (ran ${r.events} events until t=${r.endTime}, deadline ${deadline})`)
      else if (d.time > deadline) problems.push(`liveness: ${id} decided at t=${d.time}, after the deadline ${deadline}`)
    }
  }
  if (problems.length > 0) {
    const replay = simulate(cfg, { ...opts, trace: true })
    throw new Error(
      `${problems.join('\n')}\nschedule: ${JSON.stringify(cfg)}\n` +
      `trace (last 300 lines of ${replay.trace.length}):\n${replay.trace.slice(-300).join('\n')}`
    )
  }
}

describe('simulated network (safety + liveness after GST)', function () {
  for (const [n, runs] of [[4, 2000], [7, 1500]] as const) {
    it(`n=${n}: ${runs} random schedules with up to f byzantine validators`, function () {
      fc.assert(fc.property(simConfig(n), (cfg) => check(cfg)), { numRuns: runs })
    })
    it(`n=${n}: 500 schedules with exactly f equivocating validators`, function () {
      fc.assert(fc.property(simConfig(n, { minByz: Math.floor((n - 1) / 3), modes: ['equivocate'] }), (cfg) => check(cfg)), { numRuns: 500 })
    })
  }

  it('a fixed schedule replays deterministically', function () {
    const cfg: SimConfig = { n: 7, epoch: 3, seed: 42, gst: 250, maxPreGstDelay: 120, dropPct: 30, dupPct: 10, byzantine: [{ index: 1, mode: 'equivocate' }, { index: 4, mode: 'invalid' }] }
    const a = simulate(cfg, { trace: true })
    const b = simulate(cfg, { trace: true })
    assert.deepEqual(a.trace, b.trace)
    assert.equal(a.decisions.size, 5)
  })
})

describe('the harness can fail', function () {
  class HalfQuorum extends Tendermint<string> {
    constructor (o: TendermintOptions<string>) {
      super(o)
      this.quorum = Math.floor(this.n / 2) // broken: two disjoint "quorums" exist
    }
  }
  it('finds a safety violation when quorum = n/2', function () {
    const res = fc.check(
      fc.property(simConfig(4, { minByz: 1, modes: ['equivocate'] }), (cfg) => {
        const r = simulate(cfg, { factory: (o) => new HalfQuorum(o) })
        return !r.violations.some((v) => v.startsWith('disagreement'))
      }),
      { numRuns: 300, endOnFailure: true }
    )
    assert.equal(res.failed, true, 'expected the broken variant to disagree on some schedule')
  })
})

/** One chain schedule: safety in every epoch, every honest node through every epoch by the deadline. */
function checkChain (cfg: ChainConfig): { changes: number } {
  const r = simulateChain(cfg)
  const problems = [...r.violations]
  if (problems.length === 0) {
    const deadline = chainDeadline(cfg, r.roundAtGst)
    for (const id of r.honest) {
      const reached = r.reached.get(id) ?? 0
      if (reached < cfg.epochs) problems.push(`liveness: ${id} reached epoch ${reached} of ${cfg.epochs} (ran ${r.events} events until t=${r.endTime}, deadline ${deadline})`)
      else if (r.reachedAt.get(id)! > deadline) problems.push(`liveness: ${id} finished at t=${r.reachedAt.get(id)}, after the deadline ${deadline}`)
    }
  }
  if (problems.length > 0) {
    const replay = simulateChain(cfg, { trace: true })
    throw new Error(`${problems.join('\n')}\nschedule: ${JSON.stringify(cfg)}\ntrace (last 300 lines of ${replay.trace.length}):\n${replay.trace.slice(-300).join('\n')}`)
  }
  return { changes: r.changes }
}

describe('simulated chain with validator-set changes decided in the value (docs/governance.md §5)', function () {
  for (const [n, runs] of [[4, 600], [7, 500]] as const) {
    it(`n=${n}: ${runs} random schedules across set changes, up to f byzantine validators in every epoch`, function () {
      let changed = 0
      fc.assert(fc.property(chainConfig(n), (cfg) => { if (checkChain(cfg).changes > 0) changed++ }), { numRuns: runs })
      // The schedules do change the set (the property is about changes, not about a fixed set).
      assert.ok(changed > runs / 3, `only ${changed} of ${runs} schedules changed the validator set`)
    })
  }
  it('n=4: 200 schedules with an equivocating validator in the genesis set', function () {
    fc.assert(fc.property(chainConfig(4, { minByz: 1, modes: ['equivocate'] }), (cfg) => { checkChain(cfg) }), { numRuns: 200 })
  })

  it('a set change takes effect two epochs after the value that decides it; certificates of each epoch count its own set', function () {
    const cfg: ChainConfig = { n: 4, pool: 3, epochs: 5, seed: 7, gst: 0, maxPreGstDelay: 1, dropPct: 0, dupPct: 0, byzantine: [], changePct: 100 }
    const r = simulateChain(cfg, { trace: true })
    assert.deepEqual(r.violations, [])
    assert.deepEqual(r.sets[0], r.sets[1])
    assert.ok(r.changes > 0)
    for (let e = 2; e < r.sets.length; e++) {
      // Less than a third changes each epoch, and never below four.
      const before = new Set(r.sets[e - 1])
      const after = new Set(r.sets[e])
      const changed = [...after].filter((x) => !before.has(x)).length + [...before].filter((x) => !after.has(x)).length
      assert.ok(3 * changed < r.sets[e - 1].length || changed === 0, `epoch ${e}: ${changed} changes of ${r.sets[e - 1].length}`)
      assert.ok(r.sets[e].length >= 4)
    }
  })
})

describe('the chain harness can fail', function () {
  it('finds a broken chain (disagreement or no progress) when set changes need no approval', function () {
    // Lift the approvals: byzantine hubs of the pool are voted in and honest ones pushed out, a hub or
    // two per epoch, until more than f of a set are byzantine; then they split the honest nodes or stall them.
    const res = fc.check(
      fc.property(chainConfig(7, { minByz: 2, modes: ['equivocate'] }), (cfg) => {
        const all: ChainConfig = { ...cfg, epochs: 6, byzantine: [...cfg.byzantine.filter((b) => b.index < 7), ...[7, 8, 9].map((index) => ({ index, mode: 'equivocate' as const }))] }
        const r = simulateChain(all, { unapproved: true })
        const stalled = r.honest.some((id) => (r.reached.get(id) ?? 0) < all.epochs)
        return !stalled && !r.violations.some((v) => v.startsWith('disagreement') || v.includes('decided invalid'))
      }),
      { numRuns: 300, endOnFailure: true }
    )
    assert.equal(res.failed, true, 'expected changes without approvals to break the chain on some schedule')
  })
})
