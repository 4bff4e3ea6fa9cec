import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { epochVoteAtMs, verifyCertificate, verifyEvidence } from '@ecandle/protocol'
import { decodeLeaf, encodeAccountLeaf, verifyAccountProof, verifyProof, type LeafProof } from '@ecandle/tally'
import { printTailsOnFailure, Testnet, waitFor, type EntryJson, type TestHub } from './lib/testnet.js'
import { VoteWatch } from './lib/vote-watch.js'
import type { EpochSummary, RewardsJson } from '@ecandle/client'

/**
 * Agreement across real hub processes: 4 validators, 5 s epochs, 2 s grace. One network runs
 * through every phase in order (steady state, a crash mid-vote, a 2|2 split, the accounting at
 * the end), so each `it` builds on the previous one.
 */

const EPOCH_S = 5
const GRACE_S = 2
const EPOCH_MS = EPOCH_S * 1000

/** GET /epochs item. */
type EpochJson = EpochSummary

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const short = (s: string): string => s.slice(-6)

async function epochsOf (hub: TestHub): Promise<EpochJson[]> {
  return await hub.get<EpochJson[]>('/epochs?from=0&limit=1000')
}

async function lastEpochs (hubs: TestHub[]): Promise<Array<number | null>> {
  return await Promise.all(hubs.map(async h => (await h.status()).lastEpoch))
}

/**
 * Waits for a quiet moment: every hub has decided the same last epoch L and the vote on L + 1 is at
 * least `leadMs` away (hubs that are catching up decide in bursts, so "just decided" alone is not enough).
 * Returns L + 1.
 */
async function quietEpoch (tn: Testnet, hubs: TestHub[], leadMs: number, timeoutMs = 60_000): Promise<number> {
  let last: Array<number | null> = []
  return await waitFor(`all of ${hubs.map(h => h.name).join(', ')} at one decided epoch with ≥ ${leadMs} ms to the next vote`, async () => {
    last = await lastEpochs(hubs)
    const l = last[0]
    if (l === null || !last.every(e => e === l)) return undefined
    return epochVoteAtMs(tn.net, l + 1) - Date.now() >= leadMs ? l + 1 : undefined
  }, { timeoutMs, intervalMs: 100, describe: () => last.map((e, i) => `${hubs[i].name}: ${String(e)}`).join(', ') })
}

/** POST /admin/partition with the hub's bearer token: block exactly these peers (empty heals). */
async function partition (hub: TestHub, block: string[]): Promise<void> {
  const token = (await readFile(join(hub.dir, 'api.token'), 'utf8')).trim()
  const res = await fetch(`${hub.url as string}/admin/partition`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ block }),
    signal: AbortSignal.timeout(5000)
  })
  const body = await res.text()
  if (!res.ok) throw new Error(`${hub.name}: POST /admin/partition: HTTP ${res.status} ${body}`)
  assert.deepEqual([...(JSON.parse(body) as { blocked: string[] }).blocked].sort(), [...block].sort(), `${hub.name}: blocked set`)
}

describe('agreement: 4 validator processes, 5 s epochs', function () {
  let tn: Testnet
  let watch: VoteWatch | undefined
  /** Set by the crash test: the hub that was killed mid-vote, and that epoch. */
  let crashed: { hub: TestHub, epoch: number } | undefined

  before(async function () {
    this.timeout(60_000)
    tn = await Testnet.create({ hubs: 4, devicesPerHub: 3, epochLengthS: EPOCH_S, gracePeriodS: GRACE_S, reportIntervalS: 1, entryIntervalMs: 500 })
    await tn.start()
    await waitFor('every hub connected to the 3 others', async () => (await tn.statuses()).every(s => s.peers >= 3), { timeoutMs: 20_000 })
    watch = await VoteWatch.start(tn.net)
  })
  afterEach(function () { printTailsOnFailure(this, tn) })
  after(async function () {
    this.timeout(30_000)
    await watch?.stop().catch(() => {})
    // KEEP_TESTNET=1 keeps the data dirs and hub logs for a post-mortem.
    if (process.env.KEEP_TESTNET !== undefined) {
      await tn?.stopAll()
      process.stderr.write(`testnet kept in ${tn?.dir}\n`)
    } else await tn?.destroy()
  })

  /**
   * Waits until every given hub has decided epochs 0..upTo and holds byte-identical certificates
   * (and identical values, roots, cuts and totals) for each. A hub first keeps the certificate it
   * assembled itself and switches to the canonical copy when it sees one (lowest round, then
   * lowest signer indices), so this is allowed a short convergence time.
   */
  async function waitIdenticalEpochs (hubs: TestHub[], upTo: number, timeoutMs = 20_000): Promise<EpochJson[]> {
    let diff = ''
    return await waitFor(`${hubs.map(h => h.name).join(', ')} to hold identical certificates and tallies for epochs 0..${upTo}`, async () => {
      const all = await Promise.all(hubs.map(epochsOf))
      for (const [i, list] of all.entries()) {
        if (list.length < upTo + 1) { diff = `${hubs[i].name} has decided only ${list.length} epochs`; return undefined }
      }
      for (let e = 0; e <= upTo; e++) {
        const ref = all[0][e]
        for (const [i, list] of all.entries()) {
          const x = list[e]
          if (x.epoch !== e) throw new Error(`${hubs[i].name}: GET /epochs item #${e} is epoch ${x.epoch} (epochs are not consecutive)`)
          if (x.valueId !== ref.valueId) throw new Error(`epoch ${e}: ${hubs[i].name} decided value ${x.valueId}, ${hubs[0].name} ${ref.valueId} (two decisions for one epoch)`)
          if (x.certificate !== ref.certificate) { diff = `epoch ${e}: certificate of ${hubs[i].name} (round ${x.round}, signers ${x.signers.map(short).join(',')}) differs from ${hubs[0].name}'s (round ${ref.round}, signers ${ref.signers.map(short).join(',')})`; return undefined }
          assert.equal(x.root, ref.root, `epoch ${e}: root on ${hubs[i].name}`)
          assert.deepEqual(x.cut, ref.cut, `epoch ${e}: cut on ${hubs[i].name}`)
          assert.deepEqual(x.totals, ref.totals, `epoch ${e}: tally totals on ${hubs[i].name}`)
        }
      }
      return all[0].slice(0, upTo + 1)
    }, { timeoutMs, intervalMs: 250, describe: () => diff })
  }

  /** Checks one hub's decided epochs as a chain: consecutive from 0, each extending the previous, each certificate valid. */
  function checkChain (list: EpochJson[], who: string): void {
    list.forEach((x, e) => {
      assert.equal(x.epoch, e, `${who}: epochs are consecutive from 0`)
      assert.equal(x.prev, e === 0 ? null : list[e - 1].valueId, `${who}: epoch ${e} extends epoch ${e - 1}`)
      const cert = verifyCertificate(tn.net, Buffer.from(x.certificate, 'base64'))
      assert.equal(cert.valueId, x.valueId, `${who}: epoch ${e}: certificate is for the value served`)
      assert.equal(cert.value.epoch, e)
      assert.equal(cert.value.root, x.root)
      assert.ok(cert.signers.length >= 3, `${who}: epoch ${e}: ${cert.signers.length} signers; a quorum of 4 is 3`)
      assert.deepEqual([...cert.signers], x.signers)
      for (const [i, c] of x.cut.entries()) {
        assert.equal(c.hub, tn.net.validatorIds[i])
        if (e > 0) assert.ok(c.seq >= list[e - 1].cut[i].seq, `${who}: epoch ${e}: cut of ${short(c.hub)} went down from ${list[e - 1].cut[i].seq} to ${c.seq}`)
      }
    })
  }

  it('decides ≥ 5 consecutive epochs with identical certificates and tally totals on all 4 hubs', async function () {
    this.timeout(90_000)
    const hubs = tn.hubs
    // Epoch 4 is voted on at genesis + 5·5 s + 2 s grace.
    const deadline = epochVoteAtMs(tn.net, 4) + 40_000 - Date.now()
    await waitFor('all 4 hubs to decide epochs 0..4', async () => (await lastEpochs(hubs)).every(e => e !== null && e >= 4), {
      timeoutMs: Math.max(deadline, 5000),
      describe: async () => (await lastEpochs(hubs)).map((e, i) => `${hubs[i].name}: lastEpoch ${String(e)}`).join(', ')
    })
    const list = await waitIdenticalEpochs(hubs, 4)
    checkChain(list, hubs[0].name)
    // Reports flow: something was counted, and every epoch paid out its whole emission plus dust.
    const counted = list.slice(0, 5).reduce((s, x) => s + BigInt(x.totals.countedMwh), 0n)
    assert.ok(counted > 0n, 'the devices\' energy was counted in epochs 0..4')
    for (const x of list) assert.equal(BigInt(x.totals.paid) + BigInt(x.totals.dust), BigInt(x.totals.distributable), `epoch ${x.epoch}: paid + dust = distributable`)
  })

  it('keeps deciding with one hub SIGKILLed mid-vote; the restarted hub catches up and never signs twice', async function () {
    this.timeout(180_000)
    const w = watch!
    // The victim is round 0's proposer of the next epoch E, so it signs a real value (a proposal
    // and a prevote for it), not just nil votes. It is cut off from the other hubs first so it
    // cannot decide E: it is killed with signed, undecided votes on disk — the case a restart
    // must not turn into a second value.
    const E = await quietEpoch(tn, tn.hubs, 2500)
    const victim = tn.hubs.find(h => h.peerId === tn.net.validatorIds[E % 4])!
    const others = tn.hubs.filter(h => h !== victim)
    await w.block(others.map(h => h.peerId)) // the watcher sees the victim only (it must not relay)
    await partition(victim, others.map(h => h.peerId))
    assert.ok(Date.now() < epochVoteAtMs(tn.net, E), `${victim.name} was cut off before epoch ${E}'s vote`)

    // Kill at once (synchronously in the gossip callback) when the victim's prevote for E shows.
    let off = (): void => {}
    const voted = new Promise<void>(resolve => {
      off = w.onVote(v => {
        if (v.from === victim.peerId && v.epoch === E && v.type === 'prevote') {
          victim.proc?.kill('SIGKILL')
          resolve()
        }
      })
    })
    try {
      await Promise.race([voted, sleep(epochVoteAtMs(tn.net, E) + 8000 - Date.now()).then(() => { throw new Error(`${victim.name} sent no prevote for epoch ${E} (as round 0 proposer)`) })])
    } finally {
      off()
    }
    await victim.exited
    const killedAt = Date.now()
    const before = w.seen.filter(v => v.from === victim.peerId && v.epoch === E)
    assert.ok(before.some(v => v.type === 'proposal' && v.valueId !== null), `${victim.name} proposed a value for epoch ${E} before the kill`)
    assert.ok(before.some(v => v.type === 'prevote' && v.valueId !== null), `${victim.name} prevoted a value for epoch ${E} before the kill`)
    crashed = { hub: victim, epoch: E }

    // The 3 others decide 2 more epochs without it.
    await w.block([])
    const k = Math.max(...(await lastEpochs(others)).map(e => e ?? -1))
    await waitFor(`the 3 survivors to decide 2 more epochs (to ${k + 2})`, async () => (await lastEpochs(others)).every(e => e !== null && e >= k + 2), {
      timeoutMs: 6 * EPOCH_MS + 10_000,
      describe: async () => (await lastEpochs(others)).map((e, i) => `${others[i].name}: ${String(e)}`).join(', ')
    })
    const survivors = await waitIdenticalEpochs(others, k + 2)
    for (const x of survivors.slice(E)) assert.ok(!x.signers.includes(victim.peerId), `epoch ${x.epoch} was decided without the dead ${victim.name}`)

    // Restart on the same data dir, first talking to the watcher only: it must resume epoch E from
    // its signed-vote state and send what it sent before — never anything else — until it can
    // catch up. (The others refuse it for now; its own block list died with the process.)
    await Promise.all(others.map(async h => { await partition(h, [victim.peerId]) }))
    await w.block(others.map(h => h.peerId))
    const restartedAt = Date.now()
    victim.spawn()
    await waitFor(`the watcher to connect to the restarted ${victim.name}`, async () => { await w.reconnect(); return w.connectedTo(victim.peerId) }, { timeoutMs: 20_000, intervalMs: 250 })
    await victim.waitApi()
    await waitFor(`the watcher to hear the restarted ${victim.name}'s messages for epoch ${E}`, () =>
      w.heard.some(v => v.from === victim.peerId && v.epoch === E && v.at > restartedAt) ? true : undefined, { timeoutMs: 15_000 })
    assert.match(victim.logTail(100000), new RegExp(`"epoch":${E},[^\\n]*"restored":true[^\\n]*"agreement started"`), `${victim.name} restored its consensus state of epoch ${E}`)
    const again = w.heard.filter(v => v.from === victim.peerId && v.epoch === E && v.at > restartedAt)
    assert.ok(again.some(v => v.valueId !== null && before.some(b => b.type === v.type && b.round === v.round && b.valueId === v.valueId)),
      `after the restart ${victim.name} sent again what it had signed for epoch ${E}: ${again.map(v => `${v.type}@${v.round}=${String(v.valueId).slice(0, 8)}`).join(' ')}`)
    assert.deepEqual(w.conflicts(), [], 'no validator signed two different messages for one (epoch, round, step)')

    // Let it back in: it catches up every certificate, byte for byte.
    await Promise.all(others.map(async h => { await partition(h, []) }))
    await w.block([])
    const target = Math.max(...(await lastEpochs(others)).map(e => e ?? -1))
    await waitFor(`${victim.name} to catch up to epoch ${target}`, async () => ((await victim.status()).lastEpoch ?? -1) >= target, {
      timeoutMs: 60_000,
      describe: async () => `${victim.name}: lastEpoch ${String((await victim.status()).lastEpoch)}`
    })
    const all = await waitIdenticalEpochs(tn.hubs, target)
    checkChain(all, victim.name)
    // It votes again (a precommit for a value of a new epoch).
    await waitFor(`${victim.name} to precommit a value of an epoch after ${target}`, () => w.seen.some(v => v.from === victim.peerId && v.epoch > target && v.type === 'precommit' && v.valueId !== null) ? true : undefined, { timeoutMs: 6 * EPOCH_MS + 10_000 })

    // No validator ever signed two values for one slot (as seen from outside), and no hub holds
    // evidence of a double vote (or of anything else: this network is honest).
    assert.deepEqual(w.conflicts(), [], 'no validator signed two different messages for one (epoch, round, step)')
    for (const h of tn.hubs) {
      const ev = (await h.get<string[]>('/evidence')).map(b => verifyEvidence(tn.net, Buffer.from(b, 'base64')))
      assert.deepEqual(ev.filter(x => x.kind === 'vote').map(x => `${x.offender} epoch ${x.slot}`), [], `${h.name}: vote evidence`)
      assert.deepEqual(ev.map(x => `${x.kind} ${x.offender} ${x.slot}`), [], `${h.name}: evidence of any kind in an honest network`)
    }
    process.stdout.write(`      (${victim.name} killed mid-vote in epoch ${E}, down ${restartedAt - killedAt} ms; watcher saw ${w.seen.length} signed messages)\n`)
  })

  it('decides nothing while split 2|2, resumes after healing, and counts every report made during the split', async function () {
    this.timeout(200_000)
    const w = watch!
    const [a1, a2, b1, b2] = tn.hubs
    const sideA = [a1, a2]
    const sideB = [b1, b2]
    // Split right after a decision on every hub, so no vote is in flight.
    await quietEpoch(tn, tn.hubs, 2500)
    await w.block(sideB.map(h => h.peerId))
    await Promise.all([
      ...sideA.map(async h => { await partition(h, sideB.map(x => x.peerId)) }),
      ...sideB.map(async h => { await partition(h, sideA.map(x => x.peerId)) })
    ])
    const atSplit = await tn.statuses(tn.hubs)
    const D = atSplit[0].lastEpoch!
    assert.ok(atSplit.every(s => s.lastEpoch === D), `every hub at epoch ${D} when split: ${atSplit.map(s => String(s.lastEpoch)).join(',')}`)
    assert.ok(Date.now() < epochVoteAtMs(tn.net, D + 1), `the split began before epoch ${D + 1}'s vote`)

    // Hold the split for 2.5 epoch lengths past the next vote; nothing may be decided meanwhile.
    const until = epochVoteAtMs(tn.net, D + 1) + 2.5 * EPOCH_MS
    while (Date.now() < until) {
      const st = await tn.statuses(tn.hubs)
      st.forEach((s, i) => { assert.equal(s.lastEpoch, D, `${tn.hubs[i].name} decided epoch ${String(s.lastEpoch)} while split 2|2 (no side has more than 2/3)`) })
      await sleep(250)
    }
    const atEnd = await tn.statuses(tn.hubs)
    atEnd.forEach((s, i) => {
      const h = tn.hubs[i]
      // The devices kept reporting: each hub's own log grew during the split (~2 entries/s).
      assert.ok(s.heads[h.peerId].seq >= atSplit[i].heads[h.peerId].seq + 10, `${h.name}: own log grew from ${atSplit[i].heads[h.peerId].seq} to ${s.heads[h.peerId].seq} during the split`)
      // The split was real: this hub's copy of the other side's logs stayed behind their heads.
      const far = sideA.includes(h) ? sideB : sideA
      for (const f of far) {
        const own = atEnd[tn.hubs.indexOf(f)].heads[f.peerId].seq
        assert.ok((s.heads[f.peerId]?.seq ?? 0) < own - 5, `${h.name} holds ${f.name}'s log to ${s.heads[f.peerId]?.seq ?? 0} of ${own}: the partition did not hold`)
      }
    })
    const splitHeads = Object.fromEntries(tn.hubs.map((h, i) => [h.peerId, atEnd[i].heads[h.peerId].seq]))

    // Heal.
    await Promise.all(tn.hubs.map(async h => { await partition(h, []) }))
    await w.block([])
    const healedAt = Date.now()
    await waitFor('agreement to resume after healing', async () => (await lastEpochs(tn.hubs)).every(e => e !== null && e > D), {
      timeoutMs: 60_000,
      describe: async () => (await lastEpochs(tn.hubs)).map((e, i) => `${tn.hubs[i].name}: ${String(e)}`).join(', ')
    })
    const resumedMs = Date.now() - healedAt
    // Every entry written during the split gets into a decided cut on every hub.
    let last: EpochJson[] = []
    await waitFor('decided cuts to cover every entry written during the split, on every hub', async () => {
      for (const h of tn.hubs) {
        last = await h.get<EpochJson[]>('/epochs?limit=1')
        const cut = last[0]?.cut ?? []
        if (!tn.hubs.every(x => (cut.find(c => c.hub === x.peerId)?.seq ?? 0) >= splitHeads[x.peerId])) return undefined
      }
      return true
    }, { timeoutMs: 90_000, describe: () => `last cut ${last[0]?.cut.map(c => `${short(c.hub)}#${c.seq}`).join(' ')}; split heads ${Object.entries(splitHeads).map(([k, v]) => `${short(k)}#${v}`).join(' ')}` })
    // A few more epochs past that, then all hubs agree on every epoch, byte for byte.
    const now = Math.max(...(await lastEpochs(tn.hubs)).map(e => e ?? -1))
    await waitFor(`2 more epochs (to ${now + 2})`, async () => (await lastEpochs(tn.hubs)).every(e => e !== null && e >= now + 2), { timeoutMs: 6 * EPOCH_MS + 10_000 })
    const list = await waitIdenticalEpochs(tn.hubs, now + 2)
    checkChain(list, tn.hubs[0].name)
    process.stdout.write(`      (split at epoch ${D}; agreement resumed ${resumedMs} ms after healing)\n`)
  })

  it('counts, over all decided epochs, exactly the energy the logs hold up to the last cut (every hub)', async function () {
    this.timeout(60_000)
    const list = await waitIdenticalEpochs(tn.hubs, Math.min(...(await lastEpochs(tn.hubs)).map(e => e ?? -1)))
    const lastCut = list[list.length - 1].cut
    let summed = 0n
    for (const x of list) summed += BigInt(x.totals.countedMwh)
    for (const h of tn.hubs) {
      // Per epoch, from this hub's copy of every log: the energy of the segment (previous cut, cut].
      const perEpoch = list.map(() => 0n)
      const keys = new Set<string>()
      let total = 0n
      let reports = 0
      for (const [i, c] of lastCut.entries()) {
        const entries: EntryJson[] = await h.logEntries(c.hub, c.seq)
        for (const e of entries) {
          const epoch = list.findIndex(x => x.cut[i].seq >= e.seq)
          assert.ok(epoch >= 0)
          assert.ok(e.epoch <= epoch, `${h.name}: entry ${short(c.hub)}#${e.seq} stamped epoch ${e.epoch} is in the cut of epoch ${epoch}`)
          for (const r of e.reports) {
            const key = `${r.device}:${r.counter}`
            assert.ok(!keys.has(key), `${h.name}: report ${key} is twice in the logs`)
            keys.add(key)
            perEpoch[epoch] += BigInt(r.energyMwh)
            total += BigInt(r.energyMwh)
            reports++
          }
        }
        // Each cut names the entry this hub holds at that seq.
        for (const x of list) {
          const at = x.cut[i]
          if (at.seq > 0) assert.equal(at.id, entries[at.seq - 1].id, `${h.name}: epoch ${x.epoch}: cut of ${short(c.hub)} names entry ${at.id} at seq ${at.seq}`)
        }
      }
      for (const x of list) {
        const counted = BigInt(x.totals.countedMwh)
        if (counted !== perEpoch[x.epoch]) {
          // Find out why: the per-report statuses of every device in that epoch.
          const why: string[] = []
          for (const d of tn.net.def.devices) {
            const ex = await h.get<{ byStatus: Record<string, number> }>(`/tally/${x.epoch}?explain=${d.id}`)
            const not = Object.entries(ex.byStatus).filter(([k]) => k !== 'counted')
            if (not.length > 0) why.push(`${d.id}: ${JSON.stringify(ex.byStatus)}`)
          }
          assert.fail(`${h.name}: epoch ${x.epoch} counted ${counted} mWh but its segment holds ${perEpoch[x.epoch]} mWh; statuses other than counted: ${why.join('; ') || 'none'}`)
        }
      }
      assert.equal(total, summed, `${h.name}: Σ energy of ${reports} reports in the logs up to the last cut = Σ countedMwh of ${list.length} epochs`)
      assert.ok(reports > 0 && total > 0n)
    }
    process.stdout.write(`      (${list.length} epochs decided, ${summed} mWh counted)\n`)
  })

  it('serves a capex account\'s reward with a Merkle proof of the certified root', async function () {
    this.timeout(60_000)
    const account = tn.net.def.devices[0].capex
    const [h1, h2] = tn.hubs
    // An epoch every hub has decided.
    const e = Math.min(...(await lastEpochs(tn.hubs)).map(x => x ?? -1))
    assert.ok(e >= 1)
    const r = await h1.get<RewardsJson>(`/rewards/${account}?epoch=${e}`)
    assert.equal(r.epoch, e)
    assert.equal(r.account, account)
    assert.ok(r.proof !== null, 'a proof for the account')
    // The root to trust is the certified one (from another hub's /epochs), not the one in the proof.
    const certified = await h2.get<EpochJson>(`/epochs/${r.epoch}`)
    const cert = verifyCertificate(tn.net, Buffer.from(certified.certificate, 'base64'))
    assert.equal(cert.value.root, certified.root)
    const proof: LeafProof = { leaf: new Uint8Array(Buffer.from(r.proof.leaf, 'hex')), path: r.proof.path, root: r.proof.root }
    const leaf = verifyAccountProof(proof, cert.value.root)
    assert.ok(leaf !== undefined, 'the proof verifies against the certified root')
    assert.equal(leaf.account, account)
    assert.equal(leaf.epoch, r.epoch)
    assert.equal(leaf.amount, BigInt(r.epochAmount))
    assert.equal(leaf.cumulative, BigInt(r.cumulative))
    assert.ok(leaf.cumulative > 0n, 'the capex account earned something')
    // Altering the amount (re-encoded canonically, or one byte flipped) breaks the proof.
    const forged = encodeAccountLeaf({ account: leaf.account, epoch: leaf.epoch, amount: leaf.amount + 1n, cumulative: leaf.cumulative })
    assert.deepEqual(decodeLeaf(forged), { ...leaf, amount: leaf.amount + 1n })
    assert.equal(verifyProof({ ...proof, leaf: forged }, cert.value.root), false, 'a leaf with amount + 1 does not verify')
    assert.equal(verifyAccountProof({ ...proof, leaf: forged }, cert.value.root), undefined)
    const flipped = proof.leaf.slice()
    flipped[flipped.length - 1] ^= 1
    assert.equal(verifyProof({ ...proof, leaf: flipped }, cert.value.root), false, 'a leaf with a flipped byte does not verify')
    // And it does not verify against another epoch's certified root.
    const other = await h2.get<EpochJson>(`/epochs/${r.epoch - 1}`)
    assert.equal(verifyProof(proof, other.root), false)
    // The cumulative is the sum of the account's amounts over every decided epoch, on any hub.
    let sum = 0n
    for (let i = 0; i <= e; i++) sum += BigInt((await tn.hubs[i % 4].get<RewardsJson>(`/rewards/${account}?epoch=${i}`)).epochAmount)
    assert.equal(leaf.cumulative, sum, 'cumulative = Σ epoch amounts')
    // Every hub serves the very same proof (the restarted one included: it adopted certificates).
    for (const h of tn.hubs) assert.deepEqual(await h.get<RewardsJson>(`/rewards/${account}?epoch=${e}`), r, `${h.name}${h === crashed?.hub ? ' (restarted)' : ''}: the same proof`)
  })
})
