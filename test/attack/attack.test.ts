import assert from 'node:assert/strict'
import { attackSummary, GRAYLIST_DEADLINE_MS, MAX_STRANGERS, runAttack } from './run.js'

/**
 * The attacker harness (test/attack/) against a live testnet of hub processes: floods of connections
 * (fresh peer ids from 16 IPs, half-open sockets), of poisoned gossip (garbage, forged, replayed and
 * bit-flipped entries, oversized messages, votes and certificates of non-validators, subscription
 * spam), of held-open sync streams, and of HTTP requests and slow SSE readers.
 */
describe('under attack', function () {
  // Every phase lasts until honest replication and an epoch are seen under its attack (no fixed durations);
  // the figures (rates, RSS, CPU, replication p99, graylisting times, whether RSS came back) are printed;
  // `npm run soak` runs it longer.
  it('hubs stay up with bounded memory, graylist the attacker within 10 s, and keep replicating and deciding', async function () {
    this.timeout(300_000)
    const r = await runAttack({ minPhaseMs: 0, log: l => { console.log(l) } })
    console.log(attackSummary(r))
    assert.deepEqual(r.crashes, [], 'no hub crashed')
    assert.deepEqual(r.problems, [])
    for (const p of r.phases) {
      for (const h of p.hubs) assert.ok(h.growthMb === null || h.growthMb < 50, `${p.name}: ${h.hub} RSS grew ${String(h.growthMb)} MB`)
      if (p.name.startsWith('baseline')) continue
      assert.deepEqual(p.notReplicated, [], `${p.name}: honest entries replicate to every hub`)
      assert.ok(p.decided >= 1, `${p.name}: ${p.decided} epochs decided during the attack`)
    }
    assert.ok(r.graylistMs.length > 0, 'attacker peers flooded the hubs')
    assert.deepEqual(r.notGraylisted, [], `every flooding peer is graylisted by every hub it reached, within ${GRAYLIST_DEADLINE_MS} ms`)
    assert.ok((r.hungUp.streams ?? 0) > 0, `peers holding sync streams open are hung up on: ${JSON.stringify(r.hungUp)}`)
    const notes = r.phases.flatMap(p => p.notes).join('; ')
    assert.match(notes, /hub-4 joined during the flood/)
    // It joined while every stranger slot of hubs 1-3 was taken.
    const held = /strangers held by hubs 1-3 when it joined: (\d+)\/(\d+)\/(\d+)/.exec(notes)
    assert.ok(held !== null && held.slice(1).every(n => Number(n) === MAX_STRANGERS), `stranger slots full when hub-4 joined: ${held?.[0] ?? notes}`)
    assert.match(notes, /hub-2 SIGKILLed, restarted and reconnected during the flood/)
    // SSE slow readers: at most 256 streams a hub, the rest refused with 503.
    const sse = r.phases.find(p => p.name.startsWith('HTTP'))?.notes.join('; ') ?? ''
    for (const m of sse.matchAll(/(hub-\d) (\d+) streamed, (\d+) refused \(503\), (\S+) open/g)) {
      assert.ok(Number(m[2]) <= 256 && Number(m[4]) <= 256, `${m[1]}: ${m[2]} slow readers streamed, ${m[4]} open: at most 256`)
      assert.equal(Number(m[2]) + Number(m[3]), 600, `${m[1]}: every slow reader answered`)
    }
    assert.match(sse, /hub-4 \d+ streamed/)
  })
})
