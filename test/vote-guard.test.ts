import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { epochVoteAtMs, genesisValidators } from '@ecandle/protocol'
import { printTailsOnFailure, Testnet, waitFor, type TestHub } from './lib/testnet.js'
import { VoteWatch } from './lib/vote-watch.js'

/**
 * A hub restarted with its hub.key and vote-guard.json but a wiped db/ (a new SD card beside the
 * backed-up key, or a database that would not open) in the middle of an epoch's vote has lost the
 * record of what it signed there: its database says it signed nothing, and it would sign a second,
 * different proposal and prevote for the same round (the others keep that as evidence against it). The vote guard beside hub.key shows it signed
 * in that epoch: it abstains there (signs nothing, follows by certificate) and votes again from the
 * next epoch on.
 *
 * The hub has no devices here, so its own log stays empty and the own-log catch-up cannot tell that
 * its database is old: only the guard can.
 */
describe('a hub restarted with a wiped database in the middle of an epoch\'s vote', function () {
  this.timeout(120_000)
  let tn: Testnet | undefined
  let watch: VoteWatch | undefined

  afterEach(function () { printTailsOnFailure(this, tn) })
  after(async () => {
    await watch?.stop()
    await tn?.destroy()
  })

  it('abstains in that epoch (the vote guard says it signed there): no evidence anywhere, and epochs go on', async () => {
    // 4 validators, quorum 3: while two run, epoch 0's vote opens and cannot be decided.
    tn = await Testnet.create({ hubs: 4, devicesPerHub: 1, entryIntervalMs: 300, reportIntervalS: 1, epochLengthS: 15, gracePeriodS: 1 })
    const net = tn.net
    const [first, second] = genesisValidators(net).ids
    const byId = (id: string): TestHub => tn!.hubs.find(h => h.peerId === id)!
    // The victim proposes in epoch 0 round 0; its partner proposes in round 1.
    const victim = byId(first)
    const partner = byId(second)
    const rest = tn.hubs.filter(h => h !== victim && h !== partner)
    // Its clock 2 s ahead: its value of epoch 0 leaves out the partner's last entries of the epoch, so
    // the value it builds after the restart differs (without the guard: a second proposal for round 0).
    victim.configure(c => { c.emulator = null; c.clockOffsetMs = 2000 })
    const voteAt = epochVoteAtMs(net, 0)

    await Promise.all([victim.start(), partner.start()])
    watch = await VoteWatch.start(net)
    await tn.waitConverged({ hubs: [victim, partner], logs: [partner.peerId], minSeq: { [partner.peerId]: 2 } })

    // The victim proposes and prevotes in epoch 0, and everything is stuck there (2 of 4).
    const signed = (h: TestHub, epoch: number, type: string): boolean => watch!.seen.some(v => v.from === h.peerId && v.epoch === epoch && v.type === type)
    await waitFor(`${victim.name}'s proposal and prevote of epoch 0`, () => signed(victim, 0, 'proposal') && signed(victim, 0, 'prevote'), { timeoutMs: voteAt - Date.now() + 20_000 })
    await waitFor(`${partner.name}'s prevote of epoch 0`, () => signed(partner, 0, 'prevote'), { timeoutMs: 10_000 })
    const guardPath = join(victim.dir, 'vote-guard.json')
    assert.ok(existsSync(guardPath), 'the guard is beside hub.key')
    assert.equal(JSON.parse(readFileSync(guardPath, 'utf8')).epoch, 0)
    assert.equal((await partner.status()).lastEpoch, null, 'epoch 0 is not decided with 2 of 4 validators')

    // Power cut; the hub comes back with hub.key and vote-guard.json as they were, and an empty db/.
    await victim.kill()
    await rm(join(victim.dir, 'db'), { recursive: true, force: true })
    const restartAt = Date.now()
    await victim.start()
    const abstained = await waitFor(`${victim.name} to abstain in epoch 0`, () => /"epoch":0,"reason":"db-behind-guard"[^\n]*abstaining in this epoch/.exec(victim.logTail(200)) ?? undefined, { timeoutMs: 20_000 })
    assert.ok(abstained !== undefined)
    const metrics = await (await fetch(`${victim.url!}/metrics`)).text()
    assert.match(metrics, /^ecandle_agreement_total\{event="abstained"\} 1$/m)

    // The other two start: the three decide epoch 0 without the victim, which adopts the certificate.
    await Promise.all(rest.map(async h => await h.start()))
    await waitFor('epoch 0 decided on all four hubs', async () => (await tn!.statuses(tn!.hubs)).every(s => (s.lastEpoch ?? -1) >= 0), { timeoutMs: 45_000 })
    assert.ok(!watch.seen.some(v => v.from === victim.peerId && v.epoch === 0 && v.at > restartAt), `${victim.name} signed nothing in epoch 0 after the restart`)
    // From epoch 1 on it votes again, and epochs are decided.
    await waitFor('epoch 1 decided on all four hubs, and the victim signing again after epoch 0', async () => watch!.seen.some(v => v.from === victim.peerId && v.epoch >= 1) && (await tn!.statuses(tn!.hubs)).every(s => (s.lastEpoch ?? -1) >= 1), { timeoutMs: 45_000 })

    for (const h of tn.hubs) {
      const st = await h.status()
      assert.equal(st.evidence, 0, `${h.name}: no equivocation evidence`)
      assert.deepEqual(await h.get<unknown[]>('/evidence'), [], `${h.name}: GET /evidence is empty`)
    }
    assert.deepEqual(watch.conflicts(), [], 'no validator signed two messages for one slot (as seen from outside)')
    const st = await victim.status()
    console.log(`      ${victim.name} abstained in epoch 0 after its db/ was wiped; epochs 0 and 1 decided, 0 evidence; vote guard writes since the restart: ${st.agreement.guardWrites}`)
  })
})
