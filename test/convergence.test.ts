import assert from 'node:assert/strict'
import { auditLogs, printTailsOnFailure, runCli, Testnet, waitFor } from './lib/testnet.js'

const DEVICES = 5

describe('3 hub processes with emulated devices', function () {
  let tn: Testnet | undefined

  afterEach(function () { printTailsOnFailure(this, tn) })
  after(async () => { await tn?.destroy() })

  it('converge to identical heads for every log, with every report stored exactly once', async function () {
    this.timeout(90_000)
    tn = await Testnet.create({ hubs: 3, devicesPerHub: DEVICES, reportIntervalS: 1, entryIntervalMs: 500 })
    const net = tn
    await net.start()
    const started = Date.now()

    // Every hub sees the other two.
    await waitFor('every hub connected to both others', async () => (await net.statuses()).every(s => s.peers >= 2), { timeoutMs: 20_000 })

    // Run ~20 s of traffic, watching every hub stay up and keep appending to its own log.
    const RUN_MS = 20_000
    while (Date.now() - started < RUN_MS) {
      const all = await net.statuses(net.hubs)
      assert.ok(net.hubs.every(h => h.alive), 'every hub process is running')
      assert.equal(all.length, 3)
      await new Promise(resolve => setTimeout(resolve, 1000))
    }
    for (const s of await net.statuses()) {
      assert.equal(s.devices, DEVICES, `${s.peerId}: ${s.devices} emulated devices, expected ${DEVICES}`)
      assert.ok((s.heads[s.peerId]?.seq ?? 0) >= 10, `${s.peerId}: its own log has only ${s.heads[s.peerId]?.seq ?? 0} entries after ${RUN_MS} ms`)
    }

    // One moment at which all three hubs report the same head for all three logs.
    const snap = await net.waitConverged({ timeoutMs: 30_000 })
    const heads = snap[0].heads
    assert.deepEqual(Object.keys(heads).sort(), [...net.peerIds].sort(), 'heads are exactly the three hubs\' logs')

    // Each hub's store: every log chained and consistent up to those heads, no (device, counter)
    // stored twice, and the walked total equal to the hub's own report count at that moment.
    const audits = []
    for (const [i, hub] of net.hubs.entries()) {
      const a = await auditLogs(hub, net.net, heads)
      assert.equal(a.reports, snap[i].reports, `${hub.name}: ${a.reports} reports in its logs up to the common heads, but status.reports was ${snap[i].reports}`)
      audits.push(a)
    }
    // Identical logs everywhere (same entry ids in the same order), not only identical heads.
    for (const a of audits.slice(1)) assert.deepEqual(a.ids, audits[0].ids, 'every hub holds the same entries')

    // Every device reported through its own hub, about once a second.
    const a = audits[0]
    for (const dev of net.net.def.devices) {
      const n = [...a.keys].filter(k => k.startsWith(`${dev.id}:`)).length
      assert.ok(n >= 8, `device ${dev.id}: only ${n} reports stored in ~20 s at one report per second`)
    }
    assert.equal(a.keys.size, a.reports)
  })

  // On the same running network (a hub with peers and logs to show).
  it('ecandle status --json prints one JSON object: peerId, addrs with /p2p/<peerId>, peers, heads, reports', async function () {
    this.timeout(30_000)
    const net = tn as Testnet
    const hub = net.hubs[0]
    assert.ok(hub.alive, 'the hubs of the previous test are running')
    const r = await runCli(['status', '--data-dir', hub.dir, '--json'])
    assert.equal(r.code, 0, `status exited ${String(r.code)}: ${r.stderr}`)
    const lines = r.stdout.split('\n').filter(l => l !== '')
    assert.equal(lines.length, 1, `one line of JSON, got:\n${r.stdout}`)
    const s = JSON.parse(lines[0])
    assert.ok(typeof s === 'object' && s !== null && !Array.isArray(s), 'one JSON object')
    assert.equal(s.peerId, hub.peerId)
    assert.ok(Array.isArray(s.addrs) && s.addrs.length > 0, 'addrs is a non-empty list')
    for (const a of s.addrs) assert.ok(typeof a === 'string' && a.endsWith(`/p2p/${hub.peerId}`), `addr ${String(a)} ends with /p2p/<peer id>`)
    assert.ok(s.addrs.includes(`/ip4/127.0.0.1/tcp/${hub.port}/p2p/${hub.peerId}`), `addrs include the listen address: ${JSON.stringify(s.addrs)}`)
    assert.ok(Number.isSafeInteger(s.peers) && s.peers >= 1 && s.peers <= 2, `peers ${String(s.peers)}: connected to the other hubs`)
    assert.deepEqual(Object.keys(s.heads).sort(), [...net.peerIds].sort(), 'a head for every log')
    for (const h of Object.values(s.heads) as any[]) {
      assert.ok(Number.isSafeInteger(h.seq) && h.seq >= 10, `head seq ${String(h.seq)}`)
      assert.match(h.id, /^b[a-z2-7]{40,}$/, 'head id is a CID string')
    }
    assert.ok(Number.isSafeInteger(s.reports) && s.reports >= 100, `reports ${String(s.reports)}`)

    // The human form names the same hub and its logs.
    const human = await runCli(['status', '--data-dir', hub.dir])
    assert.equal(human.code, 0, human.stderr)
    for (const id of net.peerIds) assert.match(human.stdout, new RegExp(id))
  })
})

describe('a 4th hub started late', function () {
  let tn: Testnet | undefined

  afterEach(function () { printTailsOnFailure(this, tn) })
  after(async () => { await tn?.destroy() })

  it('catches up to the same heads for every log', async function () {
    this.timeout(90_000)
    tn = await Testnet.create({ hubs: 4, devicesPerHub: 3, reportIntervalS: 1, entryIntervalMs: 500 })
    const net = tn
    const [h1, h2, h3, late] = net.hubs
    await net.start([0, 1, 2])

    // Let the three build up logs the 4th can only get by sync (gossip never resends old entries).
    const before = await waitFor('hubs 1-3 each to have at least 12 entries in their own logs', async () => {
      const s = await net.statuses([h1, h2, h3])
      return s.every(x => (x.heads[x.peerId]?.seq ?? 0) >= 12) ? s : undefined
    }, { timeoutMs: 40_000 })
    for (const s of before) assert.equal(s.heads[late.peerId], undefined, 'no log of the 4th hub exists before it starts')
    // How long each log was (by its own hub) before the 4th started.
    const ownSeq: Record<string, number> = Object.fromEntries(before.map(s => [s.peerId, s.heads[s.peerId].seq]))

    await late.start()
    // All four agree on all four logs, the 4th's own log included.
    const minSeq = Object.fromEntries(net.peerIds.map(p => [p, 1]))
    for (const h of [h1, h2, h3]) minSeq[h.peerId] = ownSeq[h.peerId]
    const snap = await net.waitConverged({ hubs: net.hubs, logs: net.peerIds, minSeq, timeoutMs: 40_000 })
    const i = net.hubs.indexOf(late)
    const a = await auditLogs(late, net.net, snap[i].heads)
    assert.equal(a.reports, snap[i].reports, `${late.name}: ${a.reports} reports in its logs, status says ${snap[i].reports}`)
    for (const h of [h1, h2, h3]) {
      // Entries made before it started reached it by sync: it holds every log from seq 1.
      assert.ok(a.ids[h.peerId].length >= ownSeq[h.peerId], `${late.name} holds ${h.name}'s log from seq 1`)
    }
  })
})
