import assert from 'node:assert/strict'
import { runNemesis } from './run.js'
import { FAULT_KINDS, makeSchedule } from './schedule.js'

/**
 * The nemesis (docs: test/nemesis/): 4 hub processes, devices in ecandle-emulate processes over a
 * real mosquitto, and 2 minutes of seeded random faults — SIGKILL and restart, SIGSTOP/SIGCONT,
 * partitions into random halves, one hub's clock off by up to a minute, one hub's data disk full
 * (tmpfs, root), the broker killed — then every invariant checked against the recorded history.
 * A failing run prints its seed: NEMESIS_SEED=<seed> npm test replays its schedule.
 */
describe('nemesis', function () {
  it('the schedule is a function of the seed, mixes every kind, and heals by the end', () => {
    const o = { durationMs: 120_000, hubs: 4, kinds: FAULT_KINDS, diskHub: 1, maxPauseMs: 15_000, maxClockOffsetMs: 60_000, clockHealByMs: 60_000 }
    const a = makeSchedule({ ...o, seed: 42 })
    assert.deepEqual(makeSchedule({ ...o, seed: 42 }), a)
    assert.notDeepEqual(makeSchedule({ ...o, seed: 43 }), a)
    for (let seed = 1; seed <= 50; seed++) {
      const s = makeSchedule({ ...o, seed })
      assert.ok(new Set(s.map(f => f.kind)).size >= 3, `seed ${seed}: ${s.length} faults of ≥ 3 kinds`)
      for (const f of s) {
        assert.ok(f.at + f.durationMs <= o.durationMs, `seed ${seed}: ${f.kind} heals by the end`)
        if (f.kind === 'pause') assert.ok(f.durationMs <= o.maxPauseMs)
        if (f.kind === 'clock') assert.ok(Math.abs(f.offsetMs ?? 0) <= o.maxClockOffsetMs && f.at + f.durationMs <= o.clockHealByMs)
      }
      // At most one fault per hub at a time.
      for (const f of s) for (const g of s) if (f !== g && f.hub !== undefined && f.hub === g.hub) assert.ok(f.at + f.durationMs <= g.at || g.at + g.durationMs <= f.at, `seed ${seed}: two faults on hub ${f.hub} at once`)
    }
  })

  it('2 minutes of mixed faults while devices report: nothing acknowledged lost, one history everywhere', async function () {
    this.timeout(600_000)
    const seed = process.env.NEMESIS_SEED === undefined ? undefined : Number(process.env.NEMESIS_SEED)
    const r = await runNemesis({ seed, durationMs: 120_000, maxPauseMs: 15_000, maxClockOffsetMs: 60_000, log: l => { console.log(l) } })
    assert.ok(r.kinds >= 3, `${r.kinds} kinds of fault`)
    assert.deepEqual(r.problems, [], `seed ${r.seed} (replay: NEMESIS_SEED=${r.seed})`)
    assert.equal(r.lost, 0)
    assert.equal(r.duplicate, 0)
    assert.ok(r.acked > 100, `${r.acked} reports acknowledged`)
    assert.ok(r.epochs >= 3, `${r.epochs} epochs decided`)
    assert.equal(r.certificatesPerEpochMax, 1)
  })
})
