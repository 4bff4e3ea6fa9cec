import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { auditLogs, printTailsOnFailure, Testnet } from './lib/testnet.js'

/**
 * A hub started with its key but without its database (a restored SD card, a fresh card beside
 * the backed-up hub.key) must not sign a sequence number it signed before: that is equivocation,
 * and the other hubs would keep it as evidence against it. It asks the other validators how far
 * its own log goes and fetches it before appending; then it continues its own chain.
 */
describe('a hub restarted with its key and an empty database', function () {
  this.timeout(120_000)
  let tn: Testnet | undefined

  afterEach(function () { printTailsOnFailure(this, tn) })
  after(async () => { await tn?.destroy() })

  it('fetches its own log from the others first: no seq signed twice, and its chain goes on', async () => {
    tn = await Testnet.create({ hubs: 3, devicesPerHub: 2, entryIntervalMs: 300, reportIntervalS: 1 })
    const [h1, h2, h3] = tn.hubs
    await tn.start()
    // hub-1 logs for a while, and the others hold its log.
    const before = await tn.waitConverged({ logs: [h1.peerId], minSeq: { [h1.peerId]: 6 } })
    await h1.kill()
    const held = (await h2.status()).heads[h1.peerId]
    assert.ok(held !== undefined && held.seq >= 6, JSON.stringify(held))
    assert.ok(held.seq >= before[0].heads[h1.peerId].seq)
    const oldIds = (await h2.logEntries(h1.peerId, held.seq)).map(e => e.id)

    // The SD card is restored without its database: same hub.key, empty db/.
    await rm(join(h1.dir, 'db'), { recursive: true, force: true })
    assert.ok(existsSync(join(h1.dir, 'hub.key')))
    await h1.start()

    // It continues its chain: the others get entries of it past what they held.
    const grown = await tn.waitConverged({ logs: [h1.peerId], minSeq: { [h1.peerId]: held.seq + 3 }, timeoutMs: 60_000 })
    assert.match(h1.logTail(400), /own log caught up with the network/)

    // Nobody holds evidence of an entry signed twice, and every hub holds one and the same chain.
    for (const h of [h1, h2, h3]) {
      const st = await h.status()
      assert.equal(st.evidence, 0, `${h.name}: no equivocation evidence`)
      assert.deepEqual(await h.get<string[]>('/evidence'), [], `${h.name}: GET /evidence is empty`)
    }
    const heads = { [h1.peerId]: grown[0].heads[h1.peerId] }
    const audits = await Promise.all([h1, h2, h3].map(async h => await auditLogs(h, tn!.net, heads)))
    for (const a of audits.slice(1)) assert.deepEqual(a.ids[h1.peerId], audits[0].ids[h1.peerId], 'one chain of hub-1 everywhere')
    // The entries it held before the wipe are the same entries now (fetched back, not re-signed).
    assert.deepEqual(audits[0].ids[h1.peerId].slice(0, held.seq), oldIds)
    console.log(`      hub-1 held seq ${held.seq} on the others; after the wipe it fetched them back and went on to seq ${heads[h1.peerId].seq}, 0 evidence`)
  })
})
