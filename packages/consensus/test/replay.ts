// Replay one simulated schedule with its full trace:
//   node dist/test/replay.js '<schedule JSON printed by a failing property>' [trace lines, default all]
import { simulate } from './sim.js'

const cfg = JSON.parse(process.argv[2] ?? '{}')
const r = simulate(cfg, { trace: true })
const lines = Number(process.argv[3] ?? r.trace.length)
console.log(r.trace.slice(-lines).join('\n'))
console.log({ decisions: Object.fromEntries(r.decisions), violations: r.violations, events: r.events, endTime: r.endTime, roundAtGst: r.roundAtGst })
