import assert from 'node:assert/strict'
import { createHash, createPublicKey, verify } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { gossipsub } from '@chainsafe/libp2p-gossipsub'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { Message, PeerId, PubSub } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import * as dagCbor from '@ipld/dag-cbor'
import { createLibp2p, type Libp2p } from 'libp2p'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { printTailsOnFailure, Testnet, waitFor } from './lib/testnet.js'

/**
 * Conformance: a running testnet of hub processes checked against packages/protocol/vectors and
 * nothing else. The checks below are a small second implementation written from docs/ and the
 * vectors (raw libp2p, a DAG-CBOR codec, node:crypto): none of our packages is imported for them
 * (the harness that starts the hubs is the only other code used). The checker is first run on the
 * vectors themselves, so a check that passes on the hub means the hub agrees with the vectors.
 */
const V = JSON.parse(readFileSync(new URL('../../packages/protocol/vectors/protocol-v1.json', import.meta.url), 'utf8'))

// ---- the checker ----

const sha256 = (...parts: Uint8Array[]): Uint8Array => { const h = createHash('sha256'); for (const p of parts) h.update(p); return new Uint8Array(h.digest()) }
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))
const cat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts))
const byteOrder = (a: Uint8Array, b: Uint8Array): number => Buffer.compare(a, b)

/** Decodes DAG-CBOR and insists on the canonical form (re-encoding gives the same bytes). */
function canonical<T = any> (bytes: Uint8Array, what: string): T {
  const v = dagCbor.decode<T>(bytes)
  assert.equal(hex(dagCbor.encode(v)), hex(bytes), `${what}: not canonical DAG-CBOR`)
  return v
}

function keysExactly (m: any, keys: string[], what: string): void {
  assert.ok(m !== null && typeof m === 'object' && !Array.isArray(m) && !(m instanceof Uint8Array), `${what}: a map`)
  assert.deepEqual(Object.keys(m).sort(), [...keys].sort(), `${what}: fields`)
}

const fill = (template: string, id: string): string => template.replace('<network-id>', id)

function networkIdOf (definition: any): string {
  const { bootstrap: _b, ...rules } = definition
  return hex(sha256(dagCbor.encode(rules)).subarray(0, 16))
}

/** Every number in what is hashed is an integer. */
function assertIntegersOnly (v: unknown, path: string): void {
  if (typeof v === 'number') assert.ok(Number.isSafeInteger(v), `${path}: ${v} is not an integer`)
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) assertIntegersOnly(x, `${path}.${k}`)
}

function publicKeyOf (peerId: string): Uint8Array {
  const mh = base58btc.decode('z' + peerId)
  assert.equal(hex(mh.subarray(0, 6)), '002408011220', `${peerId}: an Ed25519 identity peer id`)
  return mh.subarray(6)
}

const SPKI = unhex('302a300506032b6570032100')
function verifies (publicKey: Uint8Array, domain: string, payload: Uint8Array, signature: Uint8Array): boolean {
  const key = createPublicKey({ key: Buffer.from(cat(SPKI, publicKey)), format: 'der', type: 'spki' })
  return verify(null, cat(new TextEncoder().encode(domain), Uint8Array.of(0), payload), key, signature)
}

const entryCid = (bytes: Uint8Array): CID => CID.createV1(0x71, Digest.create(0x12, sha256(bytes)))

interface Entry { hub: string, seq: number, prev: CID | null, epoch: number, time: number, reports: Uint8Array[], id: CID }

/** A signed log entry (protocol.md §4): envelope, payload shape, hub signature under the entry domain. */
function checkEntry (bytes: Uint8Array, netId: string, validators: string[]): Entry {
  const env = canonical(bytes, 'entry')
  keysExactly(env, ['p', 's'], 'entry')
  assert.ok(env.p instanceof Uint8Array && env.s instanceof Uint8Array && env.s.byteLength === 64, 'entry: { p: bytes, s: 64 bytes }')
  const p = canonical(env.p, 'entry payload')
  keysExactly(p, ['hub', 'seq', 'prev', 'epoch', 'time', 'reports'], 'entry payload')
  assert.ok(validators.includes(p.hub), `entry of a validator (${String(p.hub)})`)
  assert.ok(Number.isSafeInteger(p.seq) && p.seq >= 1)
  assert.ok(p.seq === 1 ? p.prev === null : CID.asCID(p.prev) !== null, 'prev: null for seq 1, a tag-42 link otherwise')
  assert.ok(Array.isArray(p.reports) && p.reports.length >= 1 && p.reports.every((r: unknown) => r instanceof Uint8Array), 'reports: byte strings')
  assert.ok(verifies(publicKeyOf(p.hub), fill(V.domains.entry, netId), env.p, env.s), `entry ${String(p.hub)}#${String(p.seq)}: hub signature`)
  return { hub: p.hub, seq: p.seq, prev: p.prev === null ? null : CID.asCID(p.prev), epoch: p.epoch, time: p.time, reports: p.reports, id: entryCid(bytes) }
}

const quorumOf = (n: number): number => Math.floor(2 * n / 3) + 1

interface Certificate { bytes: Uint8Array, value: any, valueId: string, round: number }

/** A certificate (consensus.md §1, §3), in the canonical form a hub sends: verified signature by signature. */
function checkCertificate (bytes: Uint8Array, netId: string, validators: string[]): Certificate {
  const c = canonical(bytes, 'certificate')
  keysExactly(c, ['value', 'round', 'sigs'], 'certificate')
  const v = c.value
  keysExactly(v, ['epoch', 'prev', 'cut', 'root', 'gov', 'state', 'next'], 'value')
  assert.ok(v.prev === null || /^[0-9a-f]{64}$/.test(v.prev), 'value.prev: hex text or null')
  assert.match(v.root, /^[0-9a-f]{64}$/, 'value.root: 64 hex characters of text')
  // Governance (docs/governance.md §6): resolution ids ascending, the state hashes as hex text.
  assert.ok(Array.isArray(v.gov) && v.gov.every((g: unknown, i: number) => typeof g === 'string' && /^[0-9a-f]{64}$/.test(g) && (i === 0 || g > v.gov[i - 1])), 'value.gov: ascending hex ids')
  assert.match(v.state, /^[0-9a-f]{64}$/, 'value.state: 64 hex characters of text')
  assert.match(v.next, /^[0-9a-f]{64}$/, 'value.next: 64 hex characters of text')
  assert.equal(v.cut.length, validators.length, 'value.cut: one item per validator')
  v.cut.forEach((x: any, i: number) => {
    keysExactly(x, ['hub', 'seq', 'id'], `cut[${i}]`)
    assert.equal(x.hub, validators[i], `cut[${i}].hub in validator order`)
    assert.ok(x.seq === 0 ? x.id === null : CID.asCID(x.id) !== null, `cut[${i}].id: a tag-42 link, null exactly at seq 0`)
  })
  const valueId = hex(sha256(dagCbor.encode(v)))
  const indices = c.sigs.map((s: any) => s[0])
  assert.equal(c.sigs.length, quorumOf(validators.length), 'exactly a quorum of signatures')
  assert.deepEqual(indices, [...indices].sort((a: number, b: number) => a - b), 'signatures in ascending validator index')
  assert.equal(new Set(indices).size, indices.length, 'each validator once')
  for (const [i, sig] of c.sigs) {
    const precommit = dagCbor.encode({ t: 'precommit', e: v.epoch, r: c.round, from: validators[i], v: valueId })
    assert.ok(verifies(publicKeyOf(validators[i]), fill(V.domains.vote, netId), precommit, sig), `certificate of epoch ${String(v.epoch)}: signature of validator #${String(i)}`)
  }
  return { bytes, value: v, valueId, round: c.round }
}

const leafHash = (leaf: Uint8Array): Uint8Array => sha256(unhex(V.tally.merkle.leafPrefixHex), leaf)
const nodeHash = (l: Uint8Array, r: Uint8Array): Uint8Array => sha256(unhex(V.tally.merkle.nodePrefixHex), l, r)

function merkleRoot (leaves: Uint8Array[]): string {
  if (leaves.length === 0) return V.tally.merkle.emptyRootHex
  let level = leaves.map(leafHash)
  while (level.length > 1) {
    const up: Uint8Array[] = []
    for (let i = 0; i < level.length; i += 2) up.push(i + 1 < level.length ? nodeHash(level[i], level[i + 1]) : level[i])
    level = up
  }
  return hex(level[0])
}

/** Walks a wire path ([[side, hash]], side 0 = sibling on the left) from a leaf up. */
const walk = (leaf: Uint8Array, path: Array<[number, Uint8Array]>): string =>
  hex(path.reduce((h, [side, sib]) => side === 0 ? nodeHash(sib, h) : nodeHash(h, sib), leafHash(leaf)))

function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
  out.push(n)
  return Uint8Array.from(out)
}

/** Splits length-prefixed frames. */
function frames (buf: Uint8Array): { frames: Uint8Array[], rest: Uint8Array } {
  const out: Uint8Array[] = []
  let at = 0
  for (;;) {
    let len = 0
    let i = at
    let shift = 1
    for (; i < buf.byteLength; i++) { len += (buf[i] & 0x7f) * shift; shift *= 128; if ((buf[i] & 0x80) === 0) break }
    if (i >= buf.byteLength || i + 1 + len > buf.byteLength) return { frames: out, rest: buf.subarray(at) }
    out.push(buf.slice(i + 1, i + 1 + len))
    at = i + 1 + len
  }
}

interface Exchange { frames: Uint8Array[], reset: boolean }

/** One request/response exchange on a raw stream (protocol.md §8): one frame out, close, frames back. */
async function exchange (node: Libp2p, peer: PeerId, protocol: string, request: Uint8Array): Promise<Exchange> {
  const signal = AbortSignal.timeout(15_000)
  const stream = await node.dialProtocol(peer, protocol, { signal })
  await stream.sink([cat(varint(request.byteLength), request)])
  let buf: Uint8Array = new Uint8Array(0)
  const got: Uint8Array[] = []
  try {
    for await (const chunk of stream.source) {
      const f = frames(cat(buf, chunk.subarray()))
      got.push(...f.frames)
      buf = f.rest
    }
  } catch {
    return { frames: got, reset: true }
  }
  assert.equal(buf.byteLength, 0, `${protocol}: the stream ended inside a frame`)
  return { frames: got, reset: false }
}

// ---- the test ----

describe('conformance: hubs against packages/protocol/vectors alone', function () {
  let tn: Testnet
  let node: Libp2p<{ pubsub: PubSub, identify: unknown }>
  let def: any
  let netId: string
  let validators: string[]
  let hubPeer: PeerId
  const gossiped = new Map<string, Uint8Array[]>()
  const proto = (name: string): string => fill(V.names.templates.protocols[name], netId)
  const topic = (name: string): string => fill(V.names.templates.topics[name], netId)
  const ask = async (name: string, request: unknown): Promise<Exchange> => await exchange(node, hubPeer, proto(name), dagCbor.encode(request))

  it('the checker agrees with the vectors (so what passes below agrees with them too)', () => {
    assert.equal(networkIdOf(V.network.definition), V.network.id)
    assert.equal(hex(dagCbor.encode((({ bootstrap: _b, ...r }) => r)(V.network.definition))), V.network.idInputCborHex)
    for (const [k, t] of Object.entries<string>(V.names.templates.topics)) assert.equal(fill(t, V.network.id), V.names.topics[k])
    for (const [k, t] of Object.entries<string>(V.names.templates.protocols)) assert.equal(fill(t, V.network.id), V.names.protocols[k])
    const vs = V.network.definition.validators.map((x: any) => x.peerId)
    for (const e of V.entries) assert.equal(checkEntry(unhex(e.signedHex), V.network.id, vs).id.toString(), e.cid)
    const cert = checkCertificate(unhex(V.consensus.certificates[0].bytesHex), V.network.id, vs)
    assert.equal(cert.valueId, V.consensus.certificates[0].valueId)
    for (const [n, q] of Object.entries<number>(V.consensus.quorum)) assert.equal(quorumOf(Number(n)), q)
    assert.equal(merkleRoot(V.tally.leaves.map((l: any) => unhex(l.bytesHex))), cert.value.root)
    const [proof] = V.sync.tally.exchanges
    const p = canonical(unhex(proof.responseHex[0]), 'proof')
    assert.equal(walk(p.leaf, p.path), cert.value.root)
    assert.equal(hex(dagCbor.encode(V.sync.heads.request.value)), V.sync.heads.request.bytesHex)
    for (const x of V.sync.entries.exchanges) assert.equal(hex(dagCbor.encode(x.request)), x.requestHex)
    for (const f of V.sync.framing.examples) assert.equal(hex(cat(varint(unhex(f.bytesHex).byteLength), unhex(f.bytesHex))), f.frameHex)
    for (const m of V.gossip.messageIds) assert.equal(hex(sha256(unhex(m.dataHex))), m.messageIdHex)
  })

  describe('a running testnet of 2 hub processes', function () {
    before(async function () {
      this.timeout(60_000)
      tn = await Testnet.create({ hubs: 2, devicesPerHub: 2, epochLengthS: 3, gracePeriodS: 1, reportIntervalS: 1, entryIntervalMs: 500 })
      await tn.start()
      // What any peer starts from: the network file.
      def = JSON.parse(readFileSync(tn.networkPath, 'utf8'))
      netId = networkIdOf(def)
      validators = def.validators.map((x: any) => x.peerId)
      node = await createLibp2p({
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        services: {
          identify: identify(),
          // As vectors.gossip says: StrictNoSign, message id = raw sha256 of the data.
          pubsub: gossipsub({ globalSignaturePolicy: 'StrictNoSign', msgIdFn: (m) => sha256(m.data ?? new Uint8Array(0)), emitSelf: false }) as any
        }
      }) as any
      node.services.pubsub.addEventListener('message', (e: CustomEvent<Message>) => {
        const list = gossiped.get(e.detail.topic) ?? []
        if (list.length < 1000) list.push(e.detail.data)
        gossiped.set(e.detail.topic, list)
      })
      for (const name of Object.keys(V.names.templates.topics)) node.services.pubsub.subscribe(topic(name))
      const addr = multiaddr(def.bootstrap[0])
      hubPeer = peerIdFromString(addr.getPeerId()!)
      await node.dial(addr)
    })
    afterEach(function () { printTailsOnFailure(this, tn) })
    after(async () => {
      await node?.stop()
      await tn?.destroy()
    })

    it('network file: integers only (location in micro-degrees); the hub runs under the id computed from it', async () => {
      assertIntegersOnly(def, 'network')
      for (const v of def.validators) {
        keysExactly(v.location, ['latE6', 'lonE6'], 'location')
        assert.ok(Math.abs(v.location.latE6) <= 90_000_000 && Math.abs(v.location.lonE6) <= 180_000_000)
      }
      const { bootstrap: _b, ...rules } = def
      assertIntegersOnly(dagCbor.decode(dagCbor.encode(rules)), 'id input')
      // The hub names its protocols with that id (identify), so it computed the same one.
      const protocols = await waitFor('identify of the hub', async () => {
        const p = (await node.peerStore.get(hubPeer)).protocols
        return p.includes(proto('heads')) ? p : undefined
      }, { timeoutMs: 10_000 })
      for (const name of ['heads', 'entries', 'certificates', 'tally', 'dht']) assert.ok(protocols.includes(proto(name)), `the hub speaks ${proto(name)}`)
      assert.ok(protocols.includes('/meshsub/1.1.0'), 'the hub speaks gossipsub v1.1')
    })

    it('topics: the hub subscribes to the four topic names; its gossip is unsigned and carries valid entries', async () => {
      // The governance topic is joined by hubs once they run governance (docs/governance.md §11).
      await waitFor('the hub subscribed to every topic', () => Object.keys(V.names.templates.topics).filter(name => name !== 'governance')
        .every(name => node.services.pubsub.getSubscribers(topic(name)).some(p => p.equals(hubPeer))), { timeoutMs: 15_000 })
      // Our node is StrictNoSign: a signed message would have been dropped, so receiving one proves the policy.
      const data = await waitFor('an entry on the entries topic', () => gossiped.get(topic('entries'))?.[0], { timeoutMs: 15_000 })
      const e = checkEntry(data, netId, validators)
      // The same bytes over the entries protocol.
      const served = await ask('entries', { hub: e.hub, from: e.seq, limit: 1 })
      assert.deepEqual(served.frames.map(hex), [hex(data)])
    })

    it('heads and entries frames: as documented, linked, and the head id is the last entry\'s CID', async () => {
      const r = await exchange(node, hubPeer, proto('heads'), unhex(V.sync.heads.request.bytesHex))
      assert.equal(r.reset, false)
      assert.equal(r.frames.length, 1)
      const heads = canonical(r.frames[0], 'heads')
      keysExactly(heads, ['heads'], 'heads')
      const hubs = heads.heads.map((h: any) => h.hub)
      assert.deepEqual(hubs, [...hubs].sort((a: string, b: string) => byteOrder(Buffer.from(a), Buffer.from(b))), 'sorted by hub, bytewise')
      assert.ok(hex(r.frames[0]).includes('d82a5825'), 'ids are tag-42 links')
      for (const h of heads.heads) {
        keysExactly(h, ['hub', 'seq', 'id'], 'head')
        assert.ok(validators.includes(h.hub))
        const id = CID.asCID(h.id)
        assert.ok(id !== null, 'head id is a CID link')
        const from = Math.max(1, h.seq - 2)
        const got = await ask('entries', { hub: h.hub, from, limit: 3 })
        assert.equal(got.reset, false)
        const entries = got.frames.map(f => checkEntry(f, netId, validators))
        // The log may have grown since the heads answer (hubs keep appending): up to 3 entries from
        // `from`, consecutive, and the one at the head's seq has the head's id.
        assert.deepEqual(entries.map(e => e.seq), Array.from({ length: entries.length }, (_, i) => from + i))
        assert.ok(entries.length >= h.seq - from + 1 && entries.length <= 3, `${entries.length} entries from ${from} (head ${h.seq})`)
        for (let i = 1; i < entries.length; i++) assert.ok(entries[i].prev?.equals(entries[i - 1].id), 'prev links to the entry before')
        assert.ok(entries[h.seq - from].id.equals(id), 'the head id is the CID of the head entry')
      }
      const none = await ask('entries', V.sync.entries.exchanges.find((x: any) => x.request.limit === 0).request)
      assert.deepEqual(none, { frames: [], reset: false }, 'limit 0: no frame, a normal end')
    })

    it('every malformed request of the vectors is refused: a reset, no frame', async () => {
      assert.ok(V.sync.invalidRequests.length >= 10)
      for (const r of V.sync.invalidRequests) {
        const got = await exchange(node, hubPeer, proto(r.protocol), unhex(r.requestHex))
        assert.deepEqual({ frames: got.frames.length, reset: got.reset }, { frames: 0, reset: r.outcome === 'reset' }, `${r.protocol}: ${r.name}`)
      }
    })

    it('a certificate: canonical, every signature verified, its cut naming the hubs\' entries, gossiped as served', async function () {
      this.timeout(60_000)
      const cert = await certifiedWithEnergy()
      for (const [i, c] of cert.value.cut.entries()) {
        if (c.seq === 0) continue
        const got = await ask('entries', { hub: validators[i], from: c.seq, limit: 1 })
        assert.ok(checkEntry(got.frames[0], netId, validators).id.equals(CID.asCID(c.id)!), `cut[${String(i)}].id is the CID of that entry`)
      }
      // The gossip payload of the certificates topic is the certificate's bytes as served.
      const g = await waitFor('a certificate on the certificates topic', () => gossiped.get(topic('certificates'))?.[0], { timeoutMs: 20_000 })
      const epoch = checkCertificate(g, netId, validators).value.epoch
      const served = await ask('certificates', { from: epoch, limit: 1 })
      assert.deepEqual(served.frames.map(hex), [hex(g)])
    })

    it('a tally leaf and its proof, against the certified root; all the leaves hash to it', async function () {
      this.timeout(60_000)
      const cert = await certifiedWithEnergy()
      const E = cert.value.epoch
      const leaves = (await ask('tally', { epoch: E, account: null })).frames
        .flatMap(f => { const m = canonical(f, 'leaves'); keysExactly(m, ['leaves'], 'leaves frame'); return m.leaves as Uint8Array[] })
      assert.deepEqual(leaves.map(hex), [...leaves].sort(byteOrder).map(hex), 'leaves in byte order')
      assert.equal(merkleRoot(leaves), cert.value.root)
      const account = leaves.map(l => canonical(l, 'leaf')).find((l: any) => l.k === 'a')
      keysExactly(account, ['k', 'account', 'epoch', 'amount', 'cumulative'], 'account leaf')
      assert.equal(account.epoch, E)
      assert.match(account.amount, /^(0|[1-9][0-9]*)$/, 'amounts as decimal text')
      const r = await ask('tally', { epoch: E, account: account.account })
      assert.equal(r.frames.length, 1)
      const p = canonical(r.frames[0], 'proof')
      keysExactly(p, ['leaf', 'path'], 'proof')
      assert.equal(hex(p.leaf), hex(dagCbor.encode(account)))
      assert.equal(walk(p.leaf, p.path), cert.value.root, 'the path walks the leaf up to the certified root')
      assert.deepEqual(canonical((await ask('tally', { epoch: E, account: 'f'.repeat(64) })).frames[0], 'proof'), { leaf: null, path: [] })
    })

    /** The latest certificate served whose tally has an account leaf, each certificate of the chain verified and linked. */
    async function certifiedWithEnergy (): Promise<Certificate> {
      return await waitFor('a certified epoch with counted energy', async () => {
        const got = await ask('certificates', { from: 0, limit: 64 })
        assert.equal(got.reset, false)
        const certs = got.frames.map(f => checkCertificate(f, netId, validators))
        certs.forEach((c, i) => {
          assert.equal(c.value.epoch, i, 'certificates in epoch order from 0')
          assert.equal(c.value.prev, i === 0 ? null : certs[i - 1].valueId, 'prev is the previous value id')
        })
        for (const c of certs.reverse()) {
          if (!c.value.cut.some((x: any) => x.seq > 0)) continue
          const leaves = (await ask('tally', { epoch: c.value.epoch, account: null })).frames.flatMap(f => canonical(f, 'leaves').leaves)
          if (leaves.some((l: Uint8Array) => canonical(l, 'leaf').k === 'a')) return c
        }
        return undefined
      }, { timeoutMs: 45_000, intervalMs: 500 })
    }
  })
})
