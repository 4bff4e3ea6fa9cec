import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Netns, NsHub } from './lib/netns.js'
import { BIN, waitFor } from './lib/testnet.js'
import { API_PORT, converged, decidedOnAll, EPOCH_S, peerRow, PUBLIC, sameCertificate, withWorld, writeHubs } from './lib/reach-world.js'

/**
 * Reach, in real network namespaces made here (test/lib/reach-world.ts): a public hub (relay,
 * bootstrap; a follower, not a validator) and two village hubs (the network's two validators),
 * each behind its own router with nftables masquerade. Short epochs, two devices a hub.
 */
describe('reach (network namespaces: NAT, relay, hole punching, mDNS, WebSockets)', function () {
  this.timeout(240_000)

  describe('two villages behind port-preserving NATs and a public hub', () => {
    const world = withWorld(false)

    it('connect through the relay, upgrade by hole punching, and keep replicating and deciding epochs without the public hub', async () => {
      const { pub, a, b } = world()
      for (const h of [pub, a, b]) h.spawn()
      await Promise.all([pub, a, b].map(async h => await h.waitApi()))

      // The public hub finds itself reachable (AutoNAT) and runs the relay; the villages hold a slot on it.
      await waitFor('public hub: public, relay server on', async () => { const r = (await pub.status()).reach; return r.state === 'public' && r.relayServer.running }, { timeoutMs: 60_000 })
      for (const v of [a, b]) await waitFor(`${v.name}: relay slot on the public hub`, async () => (await v.status()).reach.relays.includes(pub.peerId), { timeoutMs: 60_000 })

      // A and B meet through the relay, then DCUtR punches a direct connection through both NATs.
      const punched = await waitFor('a direct, hole-punched connection between the villages', async () => {
        const row = await peerRow(a, b.peerId)
        return row?.connection === 'hole-punched' ? row : undefined
      }, { timeoutMs: 60_000, describe: async () => JSON.stringify({ a: await peerRow(a, b.peerId), reachA: (await a.status()).reach }) })
      assert.match(punched.addrs.join(' '), /\/ip4\/11\.0\.3\.2\/tcp\//, 'A reaches B at router B\'s public address')
      for (const v of [a, b]) {
        const r = (await v.status()).reach
        assert.equal(r.nat, 'port-preserving', `${v.name}: NAT seen as port-preserving`)
        assert.equal(r.state, 'hole-punched')
        assert.ok(r.holePunches >= 1)
      }
      const metrics = await (await fetch(`${a.url!}/metrics`)).text()
      assert.match(metrics, /ecandle_reachability\{state="hole-punched"\} 1/)
      assert.match(metrics, new RegExp(`ecandle_peer_connection\\{peer="${b.peerId}",kind="hole-punched",relay=""\\} 1`))

      await waitFor('both village logs on all three hubs', async () => await converged([pub, a, b], [a.peerId, b.peerId], 2), { timeoutMs: 60_000 })

      // The public hub goes away: the villages stay connected over the punched connection, keep
      // replicating, and (the two validators are a quorum) keep deciding epochs, by gossip between them.
      await pub.stop()
      const heads = (await a.status()).heads
      const decided = Math.max(...(await Promise.all([a, b].map(async v => (await v.status()).lastEpoch ?? -1))))
      await waitFor('logs still replicating between the villages', async () => await converged([a, b], [a.peerId, b.peerId], Math.max(heads[a.peerId].seq, heads[b.peerId].seq) + 2), { timeoutMs: 30_000 })
      const e = await decidedOnAll([a, b], decided, 'an epoch decided by the villages alone', EPOCH_S * 4000 + 40_000)
      await sameCertificate([a, b], e)
      assert.equal((await peerRow(a, b.peerId))?.connection, 'hole-punched', 'still the direct connection')
    })
  })

  describe('two villages behind NATs that randomise ports (hole punching impossible)', () => {
    const world = withWorld(true)

    it('replicate every log and decide epochs with identical certificates over the relay alone; converge after a WAN cut; serve an audit over WebSockets', async () => {
      const w = world()
      const { pub, a, b, ns } = w
      const all = [pub, a, b]
      for (const h of all) h.spawn()
      await Promise.all(all.map(async h => await h.waitApi()))

      const relayed = await waitFor('A and B connected through the relay', async () => {
        const row = await peerRow(a, b.peerId)
        return row?.connection === 'relayed' ? row : undefined
      }, { timeoutMs: 60_000 })
      assert.equal(relayed.relay, pub.peerId)
      const e0 = await decidedOnAll(all, -1, 'a first epoch on all three hubs', EPOCH_S * 4000 + 40_000)
      await sameCertificate(all, e0)
      await waitFor('every log on every hub', async () => await converged(all, [a.peerId, b.peerId], 2), { timeoutMs: 60_000 })
      for (const v of [a, b]) {
        const s = await v.status()
        assert.equal(s.reach.nat, 'port-changing', `${v.name}: the NAT changes ports`)
        assert.equal(s.reach.holePunches, 0)
        assert.deepEqual(s.reach.relays, [pub.peerId])
      }
      // Still (or again: a loaded machine can make libp2p's ping monitor drop a connection) through the relay, never punched.
      await waitFor('A and B connected through the relay', async () => (await peerRow(a, b.peerId))?.connection === 'relayed', { timeoutMs: 30_000 })

      // A light peer behind village A's NAT audits the certified epoch over the public hub's WebSockets.
      const ws = `/ip4/${PUBLIC}/tcp/4003/ws/p2p/${pub.peerId}`
      assert.equal(await ns.canConnect(w.nsOf.inet, PUBLIC, 4003), true, 'the public hub listens on WebSockets (asked for)')
      const audit = await ns.exec(w.nsOf.a, [process.execPath, BIN, 'audit', '--network', w.networkPath, '--peer', ws, '--epoch', String(e0), '--full'])
      assert.match(audit, /AUDIT PASSED/)

      // Cut village A's WAN link: A keeps taking and acknowledging its devices' reports.
      const cutAt = (await a.status()).heads[a.peerId].seq
      const storedAt = (await a.status()).log?.stored ?? 0
      await ns.cut(w.routers.a, true)
      await waitFor('A writing entries while cut off', async () => (await a.status()).heads[a.peerId].seq >= cutAt + 4, { timeoutMs: 30_000 })
      assert.ok(((await a.status()).log?.stored ?? 0) > storedAt, 'A stored (and acknowledged) reports while cut off')
      const [headA, seenByB] = await Promise.all([a, b].map(async h => (await h.status()).heads[a.peerId].seq))
      assert.ok(seenByB < headA, `B has not seen A's entries written while cut off (B: ${seenByB}, A: ${headA})`)
      await ns.cut(w.routers.a, false)
      await waitFor('every hub converged after the link came back', async () => await converged(all, [a.peerId, b.peerId], headA), { timeoutMs: 90_000 })
      const e1 = await decidedOnAll(all, e0, 'an epoch decided after the link came back', EPOCH_S * 6000 + 40_000)
      await sameCertificate(all, e1)
    })

    it('keeps the HTTP API on loopback and WebSockets off unless asked', async () => {
      const { a, b, ns, nsOf, routers } = world()
      assert.equal(await ns.canConnect(nsOf.a, '127.0.0.1', API_PORT), true, 'the API answers on loopback inside its namespace')
      assert.equal(await ns.canConnect(routers.a, '192.168.1.2', API_PORT), false, 'the API is not on the LAN')
      assert.equal(await ns.canConnect(nsOf.inet, PUBLIC, API_PORT), false, 'the public hub\'s API is not on its public address')
      for (const v of [a, b]) assert.ok(!(await v.status()).addrs.some(x => x.includes('/ws') && !x.includes('/p2p-circuit')), `${v.name}: no WebSockets listener by default`)
      assert.equal(await ns.canConnect(nsOf.inet, PUBLIC, 4001), true, 'the public hub\'s libp2p port is open')
    })
  })

  describe('two hubs on one LAN, no bootstrap, no route out', () => {
    let ns: Netns | undefined
    let dir: string | undefined
    let hubs: NsHub[] = []
    let failed = false
    afterEach(function () { failed ||= this.currentTest?.state === 'failed' })
    after(async () => {
      if (failed) for (const h of hubs) process.stderr.write(`----- ${h.name}\n${h.logTail(40)}\n`)
      await Promise.all(hubs.map(async h => await h.stop(5000).catch(() => {})))
      await ns?.destroy()
      if (dir !== undefined) await rm(dir, { recursive: true, force: true })
    })

    it('find each other by mDNS, replicate, decide epochs and keep acknowledging device reports', async () => {
      ns = new Netns()
      dir = await mkdtemp(join(tmpdir(), 'ecandle-lan-'))
      const h1 = await ns.add('l1')
      const h2 = await ns.add('l2')
      await ns.link(h1, 'eth0', '192.168.7.2/24', h2, 'eth0', '192.168.7.3/24')
      // No default route (no way out), only the multicast route mDNS needs.
      for (const n of [h1, h2]) await ns.multicastRoute(n, 'eth0')
      await ns.assertIsolated()
      const w = await writeHubs(dir, undefined)
      hubs = await Promise.all([[h1, 'lan-1'], [h2, 'lan-2']].map(async ([n, label], i) => new NsHub(i, w.dirs[i + 1], w.peerIds[i + 1], n, await ns!.forwardApi(n, API_PORT, dir!), label)))
      for (const h of hubs) h.spawn()
      await Promise.all(hubs.map(async h => await h.waitApi()))
      const row = await waitFor('the LAN hubs connected', async () => {
        const r = await peerRow(hubs[0], hubs[1].peerId)
        return r?.connection === 'lan' ? r : undefined
      }, { timeoutMs: 60_000 })
      assert.match(row.addrs.join(' '), /192\.168\.7\.3/)
      const s = await hubs[0].status()
      assert.equal(s.reach.mdns, true)
      assert.equal(s.reach.state, 'lan')
      const e = await decidedOnAll(hubs, -1, 'an epoch decided on the LAN', EPOCH_S * 4000 + 40_000)
      await sameCertificate(hubs, e)
      const stored = (await hubs[0].status()).log?.stored ?? 0
      await waitFor('both logs replicated, reports still acknowledged', async () => {
        const st = await converged(hubs, hubs.map(h => h.peerId), 3)
        return st !== undefined && (st[0].log?.stored ?? 0) > stored ? st : undefined
      }, { timeoutMs: 30_000 })
    })
  })
})
