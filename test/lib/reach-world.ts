import assert from 'node:assert/strict'
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNetwork, initHubDir, type ConfigFile } from '@ecandle/daemon'
import type { EpochSummary, HubStatus, PeerInfo } from '@ecandle/client'
import { generateSeed, peerIdFromPublicKey, signerFromSeed } from '@ecandle/protocol'
import { Netns, NsHub } from './netns.js'
import { waitFor } from './testnet.js'

/**
 * Reach, in real network namespaces made here: a public hub (relay, bootstrap; a follower, not a
 * validator) and two village hubs (the network's two validators), each behind its own router
 * with nftables masquerade. Short epochs, two devices a hub.
 */
export const API_PORT = 8080
export const EPOCH_S = 6
export const PUBLIC = '11.0.1.2'

export interface World { ns: Netns, dir: string, pub: NsHub, a: NsHub, b: NsHub, networkPath: string, routers: { a: string, b: string }, nsOf: Record<string, string> }

export function patchConfig (dir: string, patch: (c: ConfigFile) => void): void {
  const path = join(dir, 'config.json')
  const c = JSON.parse(readFileSync(path, 'utf8')) as ConfigFile
  patch(c)
  writeFileSync(path, JSON.stringify(c, null, 2) + '\n')
}

/** Data dirs: two validators (villages) and a public follower hub that is the bootstrap peer. */
export async function writeHubs (dir: string, bootstrapHost: string | undefined): Promise<{ networkPath: string, dirs: string[], peerIds: string[] }> {
  const pubSeed = generateSeed()
  const pubId = peerIdFromPublicKey(signerFromSeed(pubSeed).publicKey)
  const created = await createNetwork({
    dir, hubs: 2, devicesPerHub: 2, epochLengthS: EPOCH_S, gracePeriodS: 2, reportIntervalS: 1, entryIntervalMs: 500, host: '0.0.0.0',
    bootstrap: bootstrapHost === undefined ? [] : [`/ip4/${bootstrapHost}/tcp/4001/p2p/${pubId}`]
  })
  for (const d of created.hubDirs) patchConfig(d, c => { c.listen = ['/ip4/0.0.0.0/tcp/4001']; c.api = { host: '127.0.0.1', port: API_PORT } })
  const pubDir = join(dir, 'public')
  // The public hub also serves browsers and light peers over WebSockets (asked for in its config).
  await initHubDir(pubDir, { networkPath: created.networkPath, listen: ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4003/ws'], seed: pubSeed })
  patchConfig(pubDir, c => { c.api = { host: '127.0.0.1', port: API_PORT } })
  return { networkPath: created.networkPath, dirs: [pubDir, ...created.hubDirs], peerIds: [pubId, ...created.peerIds] }
}

/**
 *   public hub 11.0.1.2 ── inet ── 11.0.2.2 router A ── 192.168.1.2 hub A
 *                            └──── 11.0.3.2 router B ── 192.168.2.2 hub B
 */
export async function natWorld (randomPorts: boolean): Promise<World> {
  const ns = new Netns()
  const dir = await mkdtemp(join(tmpdir(), 'ecandle-reach-'))
  try {
    const inet = await ns.add('inet', true)
    const pubNs = await ns.add('pub')
    const rA = await ns.add('ra', true)
    const hA = await ns.add('ha')
    const rB = await ns.add('rb', true)
    const hB = await ns.add('hb')
    await ns.link(inet, 'ep', '11.0.1.1/24', pubNs, 'eth0', `${PUBLIC}/24`)
    await ns.link(inet, 'ea', '11.0.2.1/24', rA, 'wan', '11.0.2.2/24')
    await ns.link(inet, 'eb', '11.0.3.1/24', rB, 'wan', '11.0.3.2/24')
    await ns.link(rA, 'lan', '192.168.1.1/24', hA, 'eth0', '192.168.1.2/24')
    await ns.link(rB, 'lan', '192.168.2.1/24', hB, 'eth0', '192.168.2.2/24')
    await ns.route(pubNs, '11.0.1.1')
    await ns.route(rA, '11.0.2.1')
    await ns.route(rB, '11.0.3.1')
    await ns.route(hA, '192.168.1.1')
    await ns.route(hB, '192.168.2.1')
    await ns.natRouter(rA, randomPorts)
    await ns.natRouter(rB, randomPorts)
    // The simulated internet is a namespace with no way out; the host's network is untouched.
    await ns.assertIsolated(inet)
    const w = await writeHubs(dir, PUBLIC)
    const hubs = await Promise.all([[pubNs, 'public'], [hA, 'village-a'], [hB, 'village-b']].map(async ([n, label], i) =>
      new NsHub(i, w.dirs[i], w.peerIds[i], n, await ns.forwardApi(n, API_PORT, dir), label)))
    return { ns, dir, pub: hubs[0], a: hubs[1], b: hubs[2], networkPath: w.networkPath, routers: { a: rA, b: rB }, nsOf: { inet, pub: pubNs, a: hA, b: hB } }
  } catch (err) {
    await ns.destroy()
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}

export async function destroyWorld (w: World | undefined, failed: boolean): Promise<void> {
  if (w === undefined) return
  if (failed) {
    for (const h of [w.pub, w.a, w.b]) process.stderr.write(`----- ${h.name} ${h.peerId}\n${h.logTail(40)}\n`)
  }
  await Promise.all([w.pub, w.a, w.b].map(async h => await h.stop(5000).catch(() => {})))
  await w.ns.destroy()
  if (failed && process.env.REACH_KEEP_FAILED === '1') {
    // Data dirs and full hub logs of a failed world, for a look afterwards.
    const kept = await mkdtemp(join(tmpdir(), 'ecandle-reach-failed-'))
    await cp(w.dir, kept, { recursive: true, filter: (src) => !src.endsWith('.sock') })
    process.stderr.write(`kept ${kept}\n`)
  }
  await rm(w.dir, { recursive: true, force: true })
}

/** Mocha hooks of the calling `describe`: a fresh world before its tests, torn down after them (hub logs shown if one failed). */
export function withWorld (randomPorts: boolean): () => World {
  let w: World | undefined
  let failed = false
  before(async () => { w = await natWorld(randomPorts) })
  afterEach(function () { failed ||= this.currentTest?.state === 'failed' })
  after(async () => { await destroyWorld(w, failed) })
  return () => { if (w === undefined) throw new Error('no world (its setup failed)'); return w }
}

export const peerRow = async (h: NsHub, peer: string): Promise<PeerInfo | undefined> => (await h.get<PeerInfo[]>('/peers')).find(p => p.peerId === peer)

/** Every given hub holds identical heads of the given logs, each at least minSeq. */
export async function converged (hubs: NsHub[], logs: string[], minSeq = 1): Promise<HubStatus[] | undefined> {
  const st = await Promise.all(hubs.map(async h => await h.status()))
  for (const log of logs) {
    const first = st[0].heads[log]
    if (first === undefined || first.seq < minSeq) return undefined
    if (!st.every(s => s.heads[log]?.seq === first.seq && s.heads[log]?.id === first.id)) return undefined
  }
  return st
}

/** The certificate of epoch `e` on every hub; throws unless identical. */
export async function sameCertificate (hubs: NsHub[], e: number): Promise<EpochSummary> {
  const certs = await Promise.all(hubs.map(async h => await h.get<EpochSummary>(`/epochs/${e}`)))
  for (const [i, c] of certs.entries()) assert.deepEqual({ valueId: c.valueId, root: c.root, cut: c.cut }, { valueId: certs[0].valueId, root: certs[0].root, cut: certs[0].cut }, `${hubs[i].name}: certificate of epoch ${e}`)
  return certs[0]
}

export async function decidedOnAll (hubs: NsHub[], after: number, what: string, timeoutMs = 60_000): Promise<number> {
  return await waitFor(what, async () => {
    const st = await Promise.all(hubs.map(async h => await h.status()))
    const e = Math.min(...st.map(s => s.lastEpoch ?? -1))
    return e > after ? e : undefined
  }, { timeoutMs, intervalMs: 500, describe: async () => (await Promise.all(hubs.map(async h => `${h.name}: epoch ${String((await h.status()).lastEpoch)}`))).join(', ') })
}
