// Replay one simulated schedule with its full trace:
//   node dist/test/replay.js '<schedule JSON printed by a failing property>' [trace lines, default all]
// A schedule with a `pool` field is a chain of epochs with set changes (simulateChain).
import { simulate, simulateChain } from './sim.js'

const cfg = JSON.parse(process.argv[2] ?? '{}')
if ('pool' in cfg) {
  const r = simulateChain(cfg, { trace: true })
  const lines = Number(process.argv[3] ?? r.trace.length)
  console.log(r.trace.slice(-lines).join('\n'))
  console.log({ decided: Object.fromEntries(r.decided), sets: r.sets, reached: Object.fromEntries(r.reached), violations: r.violations, events: r.events, endTime: r.endTime })
} else {
  const r = simulate(cfg, { trace: true })
  const lines = Number(process.argv[3] ?? r.trace.length)
  console.log(r.trace.slice(-lines).join('\n'))
  console.log({ decisions: Object.fromEntries(r.decisions), violations: r.violations, events: r.events, endTime: r.endTime, roundAtGst: r.roundAtGst })
}
