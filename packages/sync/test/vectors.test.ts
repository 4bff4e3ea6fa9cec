import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHubNode, type HubNode } from '@ecandle/net'
import { parseNetwork, toHex } from '@ecandle/protocol'
import { Store } from '@ecandle/store'
import { request } from '@ecandle/wire'
import { Ingest, SyncService } from '../src/index.js'

/**
 * The sync frames of the protocol vectors (packages/protocol/vectors/protocol-v1.json, section
 * `sync`) as served: a real SyncService holding the vector entries must serve exactly the committed
 * frames and refuse malformed requests. (The codecs are checked against the same vectors in @ecandle/wire.)
 */
const V = JSON.parse(readFileSync(new URL('../../../protocol/vectors/protocol-v1.json', import.meta.url), 'utf8'))
const S = V.sync
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))
const quiet = { info: () => {}, warn: () => {}, debug: () => {} }

describe('protocol vectors: a SyncService holding the vector entries (two real libp2p nodes, real LevelDB)', () => {
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
    sync = new SyncService({ node: server, net, store, ingest, logger: quiet }, { intervalMs: 3_600_000, requestTimeoutMs: 5000, concurrency: 1 })
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
