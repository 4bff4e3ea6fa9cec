import assert from 'node:assert/strict'
import { createHubNode, request, serve, type HubNode } from '../src/index.js'

const quiet = { debug: () => {} }
const seed = (n: number): Uint8Array => new Uint8Array(32).fill(n)

describe('request/response streams (two real libp2p nodes on loopback)', () => {
  let a: HubNode, b: HubNode
  const opts = { maxRequestBytes: 64, maxResponseBytes: 1024, timeoutMs: 5000, maxInboundStreams: 4 }

  before(async () => {
    a = await createHubNode({ seed: seed(1), networkId: 'test', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [] })
    b = await createHubNode({ seed: seed(2), networkId: 'test', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [] })
    await a.start()
    await b.start()
    await serve(a, '/t/echo/1', async function * (req) { yield req; yield req }, opts, quiet)
    await serve(a, '/t/big/1', function * () { yield new Uint8Array(2048) }, opts, quiet)
    await serve(a, '/t/throw/1', () => { throw new Error('handler bug') }, opts, quiet)
    await b.dial(a.getMultiaddrs()[0])
  })
  after(async () => { await a.stop(); await b.stop() })

  const ask = async (protocol: string, req: Uint8Array, maxResponseBytes = 1024): Promise<Uint8Array[]> => {
    const out: Uint8Array[] = []
    for await (const f of request(b, a.peerId, protocol, req, { maxResponseBytes, maxFrames: 10, signal: AbortSignal.timeout(5000) })) out.push(f)
    return out
  }

  it('answers a request with its frames', async () => {
    const got = await ask('/t/echo/1', Uint8Array.of(1, 2, 3))
    assert.deepEqual(got.map(f => [...f]), [[1, 2, 3], [1, 2, 3]])
  })

  it('refuses a request frame over the limit without harming the server', async () => {
    await assert.rejects(ask('/t/echo/1', new Uint8Array(65)))
    assert.equal((await ask('/t/echo/1', Uint8Array.of(7))).length, 2, 'the server still answers')
  })

  it('bounds response frames on both sides and survives a throwing handler', async () => {
    await assert.rejects(ask('/t/big/1', Uint8Array.of(1), 4096), 'the server refuses to send an oversize frame')
    await assert.rejects(ask('/t/echo/1', new Uint8Array(40), 16), 'the client refuses to read an oversize frame')
    await assert.rejects(ask('/t/throw/1', Uint8Array.of(1)))
    assert.equal((await ask('/t/echo/1', Uint8Array.of(9))).length, 2)
  })
})
