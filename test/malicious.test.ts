import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHubNode, multiaddr, peerIdFromString, type HubNode } from '@ecandle/net'
import { request, serve } from '@ecandle/wire'
import {
  CID, encode, encodeEvidence, epochOf, fromHex, generateSeed, limits, peerIdFromPublicKey, protocols, signEntry, signerFromSeed,
  signReport, topics, type EntryPayload, type Signer, type UsageReport
} from '@ecandle/protocol'
import { frame, varint } from './lib/frames.js'
import { auditLogs, getStatusCode, printTailsOnFailure, Testnet, waitFor, type TestHub } from './lib/testnet.js'

/**
 * Opens a stream of `protocol` to `peer`, writes `chunks` raw (no framing added) and, unless
 * `keepOpen`, closes the write side; then reads until the hub ends or resets the stream.
 * Resolves with how it ended; a hub that never ends it fails the deadline.
 */
async function rawExchange (node: HubNode, peer: string, protocol: string, chunks: Uint8Array[], deadlineMs: number, keepOpen = false): Promise<{ bytes: number, how: string }> {
  const signal = AbortSignal.timeout(deadlineMs)
  const stream = await node.dialProtocol(peerIdFromString(peer), protocol, { signal })
  let bytes = 0
  // keepOpen: send the chunks, then neither finish the frame nor close (a stalled client).
  const stall = async function * (): AsyncGenerator<Uint8Array> { yield * chunks; await new Promise(resolve => setTimeout(resolve, deadlineMs + 1000).unref()) }
  void stream.sink(keepOpen ? stall() : chunks).catch(() => {})
  try {
    const read = (async () => { for await (const c of stream.source) bytes += c.byteLength })()
    const deadline = new Promise<never>((_resolve, reject) => signal.addEventListener('abort', () => { reject(new Error(`the hub ${peer} did not end a ${protocol} stream within ${deadlineMs} ms`)) }, { once: true }))
    try {
      await Promise.race([read, deadline])
      return { bytes, how: 'closed' }
    } catch (err: any) {
      if (signal.aborted) throw err
      return { bytes, how: `reset (${String(err?.code ?? err?.message ?? err)})` }
    }
  } finally {
    stream.abort(new Error('done'))
  }
}

interface Keys { seed: string }
const hubSigner = (hub: TestHub): Signer => signerFromSeed(fromHex((JSON.parse(readFileSync(join(hub.dir, 'hub.key'), 'utf8')) as Keys).seed, 'hub seed', 32))
const deviceSigner = (hub: TestHub, id: string): Signer => {
  const file = JSON.parse(readFileSync(join(hub.dir, 'devices.json'), 'utf8')) as { devices: Array<{ id: string, seed: string }> }
  const d = file.devices.find(x => x.id === id)
  if (d === undefined) throw new Error(`no device ${id} in ${hub.dir}`)
  return signerFromSeed(fromHex(d.seed, 'device seed', 32))
}

/** A plausible report; `counter` far above anything an emulated device uses (unix seconds). */
function report (signer: Signer, device: string, counter: number): Uint8Array {
  const end = Math.floor(Date.now() / 1000) - 1
  const r: UsageReport = { device, counter, periodStart: end - 10, periodEnd: end, energyMwh: 0, solarMwh: 0, litS: 0, batteryMv: 3700, soc: 50, tempDeciC: 250, faults: 0 }
  return signReport(signer, r)
}

const FAKE = 9_000_000_000 // counter base of forged reports

describe('a malicious peer', function () {
  let tn: Testnet | undefined
  let evil: HubNode | undefined

  afterEach(function () { printTailsOnFailure(this, tn) })
  after(async () => {
    try { await evil?.stop() } catch {}
    await tn?.destroy()
  })

  it('cannot crash hubs or get anything stored, and honest traffic keeps flowing', async function () {
    this.timeout(120_000)
    tn = await Testnet.create({ hubs: 3, devicesPerHub: 3, reportIntervalS: 1, entryIntervalMs: 500 })
    const net = tn
    const netId = net.net.id
    const [h1, h2] = net.hubs
    await net.start()
    await waitFor('every hub connected to both others', async () => (await net.statuses()).every(s => s.peers >= 2), { timeoutMs: 20_000 })

    // A libp2p node of our own: random key, not a validator, dialing the hubs' bootstrap addresses.
    const evilSeed = generateSeed()
    const evilSigner = signerFromSeed(evilSeed)
    const evilId = peerIdFromPublicKey(evilSigner.publicKey)
    evil = await createHubNode({ seed: evilSeed, networkId: netId, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: net.net.def.bootstrap })
    const node = evil
    const pubsub = node.services.pubsub
    const entriesTopic = topics.entries(netId)
    const evidenceTopic = topics.evidence(netId)
    pubsub.subscribe(entriesTopic)
    pubsub.subscribe(evidenceTopic)
    await node.start()
    for (const a of net.net.def.bootstrap) await node.dial(multiaddr(a)).catch(() => {})
    await waitFor('every hub to be known as a subscriber of the entries and evidence topics', () => {
      const subs = (t: string): Set<string> => new Set(pubsub.getSubscribers(t).map(p => p.toString()))
      return net.peerIds.every(p => subs(entriesTopic).has(p) && subs(evidenceTopic).has(p)) ? true : undefined
    }, { timeoutMs: 20_000 })

    // It also answers the hubs' own sync requests with lies: heads far ahead and forged entries.
    // Every hub must have written an entry the first hub holds (hub-1's head is what the forgeries extend).
    const base = await waitFor('a first entry of every hub on the first hub', async () => {
      const st = await net.statuses()
      return net.peerIds.every(p => st[0].heads[p] !== undefined) ? st : undefined
    }, { timeoutMs: 20_000 })
    const before = base[0].heads
    const h1Head = before[h1.peerId]
    await serve(node, protocols.heads(netId), () => [encode({
      heads: [
        { hub: h1.peerId, seq: h1Head.seq + 1_000_000, id: CID.parse(h1Head.id) },
        { hub: evilId, seq: 7, id: CID.parse(h1Head.id) }
      ]
    })], { maxRequestBytes: 1024, maxResponseBytes: 64 * 1024, timeoutMs: 5000, maxInboundStreams: 64 }, { debug: () => {} })

    // The forgeries. Entries claim the next seq of hub-1's log, so one wrongly accepted would show
    // up as a fork of hub-1's log on some hub.
    const h1Signer = hubSigner(h1)
    const h1Dev = net.net.def.devices.find(d => d.hub === h1.peerId)?.id as string
    const h2Dev = net.net.def.devices.find(d => d.hub === h2.peerId)?.id as string
    const h1DevSigner = deviceSigner(h1, h1Dev)
    const now = Date.now()
    const header = (hub: string): Omit<EntryPayload, 'reports'> => ({ hub, seq: h1Head.seq + 1, prev: CID.parse(h1Head.id), epoch: epochOf(net.net, now), time: now })
    const good = report(h1DevSigner, h1Dev, FAKE)
    const forged: Record<string, Uint8Array> = {
      garbage: new Uint8Array(randomBytes(300)),
      'bad signature': signEntry(net.net, evilSigner, { ...header(h1.peerId), reports: [good] }),
      'unknown hub': signEntry(net.net, evilSigner, { ...header(evilId), seq: 1, prev: null, reports: [good] }),
      'unregistered device': signEntry(net.net, h1Signer, { ...header(h1.peerId), reports: [report(signerFromSeed(generateSeed()), 'zz-d999', FAKE)] }),
      // A device's hub is judged by the tally under governance (docs/governance.md §7), so a report
      // carried by another hub is admitted; one signed with another device's key never is.
      'report signed by another device': signEntry(net.net, h1Signer, { ...header(h1.peerId), reports: [report(deviceSigner(h2, h2Dev), h1Dev, FAKE)] }),
      oversize: signEntry(net.net, h1Signer, { ...header(h1.peerId), reports: Array.from({ length: 600 }, (_, i) => report(h1DevSigner, h1Dev, FAKE + 1 + i)) })
    }
    assert.ok(forged.oversize.byteLength > limits.maxEntryBytes, 'the oversize entry is over the limit')
    // Whoever syncs from us gets forgeries (the hubs must reject them and stop that exchange).
    await serve(node, protocols.entries(netId), () => [forged['report signed by another device'], forged['bad signature'], forged.garbage],
      { maxRequestBytes: 1024, maxResponseBytes: 256 * 1024, timeoutMs: 5000, maxInboundStreams: 64 }, { debug: () => {} })
    const expectReject: Record<string, string> = {
      'bad signature': 'entry-signature',
      'unknown hub': 'unknown-hub',
      'unregistered device': 'unregistered-device',
      'report signed by another device': 'report-signature',
      oversize: 'entry-size'
    }
    // Garbage on the sync protocols of every hub: the hub must end each stream (close or reset)
    // well before our deadline, and serve honest requests afterwards.
    const DEADLINE = 15_000
    const stalled: Array<Promise<{ bytes: number, how: string }>> = []
    for (const hub of net.hubs) {
      for (const proto of [protocols.entries(netId), protocols.heads(netId)]) {
        const cases: Uint8Array[][] = [
          [new Uint8Array(randomBytes(200))], // not even a frame
          [frame(new Uint8Array(randomBytes(5000)))], // a frame over the 1 KiB request limit
          [varint(2 ** 31), new Uint8Array(randomBytes(64))], // a 2 GiB frame announced
          [frame(new Uint8Array(randomBytes(100)))], // a frame of garbage CBOR
          [frame(encode({ hub: 42, from: -1, limit: 'all' }))], // well-formed CBOR, wrong shape
          [] // nothing at all
        ]
        for (const c of cases) {
          const r = await rawExchange(node, hub.peerId, proto, c, DEADLINE)
          // Refused, never answered (docs/protocol.md §8): heads included, which once answered anything as `{}`.
          assert.equal(r.bytes, 0, `${hub.name} answered a bad ${proto} request with ${r.bytes} bytes`)
        }
        // Requests left open without a full frame: the hub's deadline must end them.
        for (let i = 0; i < 4; i++) stalled.push(rawExchange(node, hub.peerId, proto, [varint(900), new Uint8Array(10)], DEADLINE, true))
      }
      // An entries request asking for far too much gets at most one page.
      let frames = 0
      for await (const _ of request(node, peerIdFromString(hub.peerId), protocols.entries(netId), encode({ hub: h1.peerId, from: 1, limit: 1_000_000 }), { maxResponseBytes: limits.maxEntryBytes, maxFrames: 1_000_000, signal: AbortSignal.timeout(10_000) })) frames++
      assert.ok(frames >= 1 && frames <= limits.maxEntriesPerRequest, `${hub.name} served ${frames} entries for one request (limit ${limits.maxEntriesPerRequest})`)
      // And an honest heads request still works.
      let heads = 0
      for await (const f of request(node, peerIdFromString(hub.peerId), protocols.heads(netId), encode({}), { maxResponseBytes: 64 * 1024, maxFrames: 1, signal: AbortSignal.timeout(10_000) })) heads += f.byteLength
      assert.ok(heads > 0, `${hub.name} answers an honest heads request`)
    }

    // Now the forgeries on gossip (last: a peer that sends them is graylisted and hung up on).
    // Evidence first: two REJECTs on one topic leave the sender above the graylist threshold.
    // Evidence: garbage, and "equivocation" of hub-1 made of two entries it never signed.
    const framed = encodeEvidence('entry', forged['bad signature'], signEntry(net.net, evilSigner, { ...header(h1.peerId), reports: [report(h1DevSigner, h1Dev, FAKE + 1)] }))
    for (const bytes of [new Uint8Array(randomBytes(500)), framed]) {
      const r = await pubsub.publish(evidenceTopic, bytes)
      const to = new Set(r.recipients.map(p => p.toString()))
      assert.ok(net.peerIds.every(p => to.has(p)), `forged evidence was sent to every hub (recipients: ${[...to].join(', ')})`)
    }
    for (const [what, bytes] of Object.entries(forged)) {
      const r = await pubsub.publish(entriesTopic, bytes)
      const to = new Set(r.recipients.map(p => p.toString()))
      assert.ok(net.peerIds.every(p => to.has(p)), `the ${what} entry was sent to every hub (recipients: ${[...to].join(', ')})`)
    }

    // Every hub validated and rejected every forgery (not merely never received them).
    for (const hub of net.hubs) {
      await waitFor(`${hub.name} to reject every forged entry and evidence`, async () => {
        const g = (await hub.status()).gossip
        const n = (result: string, code: string, topic = entriesTopic): number => g[`${topic} ${result} ${code}`] ?? 0
        const entriesRejected = Object.entries(g).filter(([k]) => k.startsWith(`${entriesTopic} reject `)).reduce((a, [, v]) => a + v, 0)
        const evidenceRejected = Object.entries(g).filter(([k]) => k.startsWith(`${evidenceTopic} reject `)).reduce((a, [, v]) => a + v, 0)
        return Object.values(expectReject).every(code => n('reject', code) >= 1) && entriesRejected >= Object.keys(forged).length &&
          evidenceRejected >= 2 && n('reject', 'entry-signature', evidenceTopic) >= 1
      }, { timeoutMs: 15_000, describe: async () => JSON.stringify((await hub.status()).gossip) })
    }

    // Each hub graylisted the sender by its gossip score, hung up on it and keeps it out.
    for (const hub of net.hubs) {
      await waitFor(`${hub.name} to graylist the malicious peer`, () => hub.logTail(500).split('\n').some(l => l.includes('peer graylisted') && l.includes(evilId)), { timeoutMs: 10_000 })
      await waitFor(`${hub.name} to hang up on it`, () => node.getConnections(peerIdFromString(hub.peerId)).length === 0, { timeoutMs: 10_000 })
    }

    // No hub crashed; none of it is stored; honest traffic goes on and converges.
    for (const hub of net.hubs) assert.ok(hub.alive, `${hub.name} is still running`)
    const minSeq = Object.fromEntries(net.peerIds.map(p => [p, before[p].seq + 4]))
    const snap = await net.waitConverged({ minSeq, timeoutMs: 40_000 })
    for (const [i, hub] of net.hubs.entries()) {
      const s = snap[i]
      assert.deepEqual(Object.keys(s.heads).sort(), [...net.peerIds].sort(), `${hub.name} keeps logs of the network's hubs only`)
      assert.equal(s.evidence, 0, `${hub.name} stored evidence (the forged equivocation?)`)
      const a = await auditLogs(hub, net.net, s.heads) // only registered devices of each log's own hub, chains intact
      assert.equal(a.reports, s.reports, `${hub.name}: ${a.reports} reports in its logs, status says ${s.reports}`)
      for (const k of a.keys) assert.ok(Number(k.split(':')[1]) < FAKE, `${hub.name} stored the forged report ${k}`)
      assert.equal(await getStatusCode(`${hub.url as string}/reports/${h2Dev}/${FAKE}`), 404, `${hub.name} holds the forged report of ${h2Dev}`)
      assert.equal(await getStatusCode(`${hub.url as string}/reports/${h1Dev}/${FAKE}`), 404, `${hub.name} holds the forged report of ${h1Dev}`)
    }
    // The stalled requests were ended by the hubs' deadline (rawExchange fails past ours), unanswered.
    for (const r of await Promise.all(stalled)) assert.equal(r.bytes, 0, `a stalled request got ${r.bytes} bytes (${r.how})`)
  })
})
