import { parseArgs } from 'node:util'
import { attackSummary, runAttack } from './attack/run.js'
import { runNemesis, summary } from './nemesis/run.js'

/**
 * `npm run soak -- --minutes 30`: the long nemesis (faults for that long, pauses up to 30 s, clock
 * offsets up to ±2 min) and then the attacker harness with long phases; prints the figures of both.
 * `--seed N` replays a nemesis schedule; `--only nemesis|attack` runs one of them. Exit 1 when an
 * invariant failed.
 */
const USAGE = 'npm run soak -- [--minutes 30] [--attack-minutes M] [--seed N] [--only nemesis|attack]\n'

async function main (): Promise<void> {
  const { values: a } = parseArgs({ options: { minutes: { type: 'string' }, 'attack-minutes': { type: 'string' }, seed: { type: 'string' }, only: { type: 'string' }, help: { type: 'boolean' } } })
  if (a.help === true) { process.stdout.write(USAGE); return }
  const minutes = Number(a.minutes ?? 30)
  const attackMinutes = Number(a['attack-minutes'] ?? Math.max(1, Math.round(minutes / 5)))
  if (!(minutes > 0) || !(attackMinutes > 0) || (a.only !== undefined && a.only !== 'nemesis' && a.only !== 'attack')) { process.stderr.write(USAGE); process.exit(2) }
  const log = (l: string): void => { process.stdout.write(l + '\n') }
  let failed = false
  if (a.only !== 'attack') {
    log(`soak: nemesis, ${minutes} min of faults`)
    const r = await runNemesis({ seed: a.seed === undefined ? undefined : Number(a.seed), durationMs: minutes * 60_000, maxPauseMs: 30_000, maxClockOffsetMs: 120_000, log })
    failed ||= r.problems.length > 0
    log('\nsoak: nemesis figures')
    log(summary(r))
  }
  if (a.only !== 'nemesis') {
    // Five phases (baseline and four attacks) share the time: each lasts at least its share.
    const minPhaseMs = Math.round(attackMinutes * 60_000 / 5)
    log(`\nsoak: attacker harness, ${attackMinutes} min (at least ${Math.round(minPhaseMs / 1000)} s per phase)`)
    const r = await runAttack({ minPhaseMs, log })
    failed ||= r.crashes.length > 0 || r.problems.length > 0 || r.notGraylisted.length > 0 || r.phases.some(p => p.hubs.some(h => (h.growthMb ?? 0) >= 50))
    log('\nsoak: attack figures')
    log(attackSummary(r))
    const base = r.phases[0]
    for (const p of r.phases.slice(1)) log(`    replication p99 ${p.name}: ${p.replicationP99Ms} ms (without attack: ${base.replicationP99Ms} ms)`)
  }
  log(failed ? '\nsoak: FAILED (see PROBLEM lines)' : '\nsoak: every invariant held')
  process.exitCode = failed ? 1 : 0
}

main().catch(err => {
  process.stderr.write(`soak: ${String((err as Error)?.stack ?? err)}\n`)
  process.exit(1)
})
