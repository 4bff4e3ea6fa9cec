import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Tendermint, type TendermintOptions } from '../src/index.js'
import { simConfig } from './arb.js'
import { livenessDeadline, simulate, type SimConfig, type SimOptions } from './sim.js'

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
