import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHubNode, request, type HubNode } from '@ecandle/net'
import { encode, parseCid, parseNetwork, ProtocolError, toHex, type Head } from '@ecandle/protocol'
import { Store } from '@ecandle/store'
import {
  decodeEntriesRequest, decodeHeadsRequest, decodeHeadsResponse, decodeLeavesFrame, decodeProofResponse, decodeTallyRequest,
  encodeEntriesRequest, encodeHeadsResponse, encodeLeavesFrame, encodeProofResponse, encodeTallyRequest, Ingest, LEAVES_PER_FRAME,
  MAX_LEAF_BYTES, MAX_TALLY_FRAME_BYTES, SyncService
} from '../src/index.js'

/**
 * The sync frames of the protocol vectors (packages/protocol/vectors/protocol-v1.json, section
 * `sync`): the codecs here must produce and read exactly those bytes, and a real SyncService
 * holding the vector entries must serve exactly the committed frames and refuse malformed requests.
 */
const V = JSON.parse(readFileSync(new URL('../../../protocol/vectors/protocol-v1.json', import.meta.url), 'utf8'))
const S = V.sync
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))
const quiet = { info: () => {}, warn: () => {}, debug: () => {} }

describe('protocol vectors: sync frames', () => {
  it('heads: the request is {}, anything else is refused; the response is sorted by hub', () => {
    decodeHeadsRequest(unhex(S.heads.request.bytesHex))
    for (const r of S.invalidRequests.filter((x: any) => x.protocol === 'heads')) {
      assert.throws(() => { decodeHeadsRequest(unhex(r.requestHex)) }, ProtocolError, r.name)
    }
    const value = S.heads.response.value.heads
    // Insertion order is not the wire order: the encoder sorts.
    const heads = new Map<string, Head>([...value].reverse().map((h: any) => [h.hub, { seq: h.seq, id: parseCid(h.id), time: 0 }]))
    assert.equal(toHex(encodeHeadsResponse(heads)), S.heads.response.bytesHex)
    assert.deepEqual(decodeHeadsResponse(unhex(S.heads.response.bytesHex), 2).map(h => ({ hub: h.hub, seq: h.seq, id: h.id.toString() })), value)
  })

  it('entries: requests encode and decode as committed (limit capped at 64); malformed ones are refused', () => {
    for (const x of S.entries.exchanges) {
      assert.equal(toHex(encodeEntriesRequest(x.request)), x.requestHex, x.name)
      assert.deepEqual(decodeEntriesRequest(unhex(x.requestHex)), { ...x.request, limit: Math.min(x.request.limit, S.limits.entries.maxFrames) })
    }
    assert.equal(decodeEntriesRequest(encode({ hub: 'h', from: 1, limit: 1000 })).limit, 64)
    for (const r of S.invalidRequests.filter((x: any) => x.protocol === 'entries')) {
      assert.throws(() => decodeEntriesRequest(unhex(r.requestHex)), ProtocolError, r.name)
    }
  })

  it('tally: requests, proof and leaves frames encode and decode as committed; limits agree', () => {
    const [proof, none, all] = S.tally.exchanges
    for (const x of S.tally.exchanges) {
      assert.equal(toHex(encodeTallyRequest(x.request)), x.requestHex, x.name)
      assert.deepEqual(decodeTallyRequest(unhex(x.requestHex)), x.request)
    }
    for (const bytes of [proof.responseHex[0], none.responseHex[0]]) assert.equal(toHex(encodeProofResponse(decodeProofResponse(unhex(bytes)))), bytes)
    const i = V.tally.leaves.findIndex((l: any) => l.leaf.account === proof.request.account)
    assert.deepEqual(decodeProofResponse(unhex(proof.responseHex[0])).path, V.tally.proofs[i].path)
    assert.deepEqual(decodeProofResponse(unhex(none.responseHex[0])), { leaf: null, path: [] })
    const leaves = decodeLeavesFrame(unhex(all.responseHex[0]))
    assert.equal(toHex(encodeLeavesFrame(leaves)), all.responseHex[0])
    assert.deepEqual(leaves.map(toHex), V.tally.leaves.map((l: any) => l.bytesHex))
    for (const r of S.invalidRequests.filter((x: any) => x.protocol === 'tally')) {
      assert.throws(() => decodeTallyRequest(unhex(r.requestHex)), ProtocolError, r.name)
    }
    assert.equal(S.limits.tally.leavesPerFrame, LEAVES_PER_FRAME)
    assert.equal(S.limits.tally.maxLeafBytes, MAX_LEAF_BYTES)
    assert.equal(S.limits.tally.maxResponseBytes, MAX_TALLY_FRAME_BYTES)
    assert.equal(S.limits.tally.maxRequestBytes, encodeTallyRequest({ epoch: Number.MAX_SAFE_INTEGER, account: 'f'.repeat(64) }).byteLength)
  })

  describe('a SyncService holding the vector entries (two real libp2p nodes, real LevelDB)', () => {
    const net = parseNetwork(V.network.definition)
    let dir: string
    let store: Store
    let server: HubNode, client: HubNode
    let sync: SyncService

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ecandle-vectors-'))
      store = await Store.open(dir, net.id)
      const at = V.entries[0].verifyAtMs
      const ingest = new Ingest(net, store, quiet, {}, () => at)
      // hub B first: the heads frame must not depend on the order logs were learned in.
      for (const name of ['hub B #1', 'hub A #1', 'hub A #2']) await ingest.accept(unhex(V.entries.find((e: any) => e.name === name).signedHex), 'vectors')
      server = await createHubNode({ seed: new Uint8Array(32).fill(1), networkId: net.id, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [] })
      client = await createHubNode({ seed: new Uint8Array(32).fill(77), networkId: net.id, listen: [], bootstrap: [] })
      await server.start()
      await client.start()
      sync = new SyncService(server, net, store, ingest, quiet, { intervalMs: 3_600_000, requestTimeoutMs: 5000, concurrency: 1 })
      await sync.start()
      await client.dial(server.getMultiaddrs()[0])
    })
    after(async () => {
      await sync?.stop()
      await client?.stop()
      await server?.stop()
      await store?.close()
      await rm(dir, { recursive: true, force: true })
    })

    const exchange = async (protocol: string, req: Uint8Array): Promise<string[]> => {
      const out: string[] = []
      for await (const f of request(client, server.peerId, protocol, req, { maxResponseBytes: 1024 * 1024, maxFrames: 100, signal: AbortSignal.timeout(5000) })) out.push(toHex(f))
      return out
    }

    it('serves exactly the committed heads and entries frames (limit 0: none, and no error)', async () => {
      assert.deepEqual(await exchange(S.heads.protocol, unhex(S.heads.request.bytesHex)), [S.heads.response.bytesHex])
      for (const x of S.entries.exchanges) assert.deepEqual(await exchange(S.entries.protocol, unhex(x.requestHex)), x.responseHex, x.name)
    })

    it('resets the stream of every malformed heads or entries request, without a frame, and keeps serving', async () => {
      const cases = S.invalidRequests.filter((x: any) => x.protocol === 'heads' || x.protocol === 'entries')
      assert.ok(cases.length >= 8)
      for (const r of cases) {
        const proto = r.protocol === 'heads' ? S.heads.protocol : S.entries.protocol
        const frames: string[] = []
        await assert.rejects(async () => {
          for await (const f of request(client, server.peerId, proto, unhex(r.requestHex), { maxResponseBytes: 1024 * 1024, maxFrames: 100, signal: AbortSignal.timeout(5000) })) frames.push(toHex(f))
        }, `${r.protocol}: ${r.name} is refused`)
        assert.deepEqual(frames, [], `${r.protocol}: ${r.name} got no frame`)
      }
      assert.deepEqual(await exchange(S.heads.protocol, unhex(S.heads.request.bytesHex)), [S.heads.response.bytesHex])
    })
  })
})
