import assert from 'node:assert/strict'
import { createHubNode, type HubNode } from '@ecandle/net'
import { encode } from '@ecandle/protocol'
import { askAll, entriesProtocol, handle, headsProtocol, request, serve, WireError, type Served } from '../src/index.js'

const quiet = { debug: () => {} }
const seed = (n: number): Uint8Array => new Uint8Array(32).fill(n)

describe('request/response streams (two real libp2p nodes on loopback)', () => {
  let a: HubNode, b: HubNode
  const opts = { maxRequestBytes: 64, maxResponseBytes: 1024, timeoutMs: 5000, maxInboundStreams: 4 }
  const served: Served[] = []
  let release: () => void = () => {}
  const held = new Promise<void>(resolve => { release = resolve })

  before(async () => {
    a = await createHubNode({ seed: seed(1), networkId: 'test', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [] })
    b = await createHubNode({ seed: seed(2), networkId: 'test', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [] })
    await a.start()
    await b.start()
    await serve(a, '/t/echo/1', async function * (req) { yield req; yield req }, opts, quiet)
    await serve(a, '/t/big/1', function * () { yield new Uint8Array(2048) }, opts, quiet)
    await serve(a, '/t/throw/1', () => { throw new Error('handler bug') }, opts, quiet)
    // Answers one frame, then holds the stream open until released or aborted.
    served.push(await serve(a, '/t/slow/1', async function * (_req, _peer, signal) {
      yield Uint8Array.of(1)
      await Promise.race([held, new Promise(resolve => signal.addEventListener('abort', resolve, { once: true }))])
    }, opts, quiet))
    await b.dial(a.getMultiaddrs()[0])
  })
  after(async () => { release(); await a.stop(); await b.stop() })

  const ask1 = async (protocol: string, req: Uint8Array, maxResponseBytes = 1024): Promise<Uint8Array[]> => {
    const out: Uint8Array[] = []
    for await (const f of request(b, a.peerId, protocol, req, { maxResponseBytes, maxFrames: 10, signal: AbortSignal.timeout(5000) })) out.push(f)
    return out
  }

  it('answers a request with its frames', async () => {
    const got = await ask1('/t/echo/1', Uint8Array.of(1, 2, 3))
    assert.deepEqual(got.map(f => [...f]), [[1, 2, 3], [1, 2, 3]])
  })

  it('refuses a request frame over the limit without harming the server', async () => {
    await assert.rejects(ask1('/t/echo/1', new Uint8Array(65)))
    assert.equal((await ask1('/t/echo/1', Uint8Array.of(7))).length, 2, 'the server still answers')
  })

  it('bounds response frames on both sides and survives a throwing handler', async () => {
    await assert.rejects(ask1('/t/big/1', Uint8Array.of(1), 4096), 'the server refuses to send an oversize frame')
    await assert.rejects(ask1('/t/echo/1', new Uint8Array(40), 16), (err: unknown) => err instanceof WireError && err.code === 'frame-size', 'the client refuses to read an oversize frame')
    await assert.rejects(ask1('/t/throw/1', Uint8Array.of(1)))
    assert.equal((await ask1('/t/echo/1', Uint8Array.of(9))).length, 2)
  })

  it('typed protocols: requests decoded strictly, frames encoded; a bad request is reset', async () => {
    const s = await handle(a, 'test', entriesProtocol, (r) => [encode(r)], { logger: quiet })
    try {
      const frames = await askAll(b, a.peerId, 'test', entriesProtocol, { hub: 'h', from: 3, limit: 1000 })
      // The server saw the limit capped at one page.
      assert.deepEqual(frames.map(f => [...f]), [[...encode({ hub: 'h', from: 3, limit: 64 })]])
      // An unknown field: the server resets the stream rather than answer.
      await assert.rejects(ask1(entriesProtocol.name('test'), encode({ hub: 'h', from: 3, limit: 1, more: true })), /reset/)
    } finally {
      await s.close()
    }
    await assert.rejects(askAll(b, a.peerId, 'test', entriesProtocol, { hub: 'h', from: 1, limit: 1 }), 'closed: no longer served')
  })

  it('a caller signal ends an exchange at once; the default deadline only applies without one', async () => {
    const ctl = new AbortController()
    const got: Uint8Array[] = []
    const run = (async () => { for await (const f of request(b, a.peerId, '/t/slow/1', Uint8Array.of(1), { maxResponseBytes: 16, maxFrames: 4, signal: ctl.signal })) { got.push(f); ctl.abort(new Error('caller gave up')) } })()
    await assert.rejects(run, /caller gave up/)
    assert.equal(got.length, 1)
    // A typed call with a deadline of its own names it.
    const slowHeads = await handle(a, 'test', headsProtocol, async function * (_r, _p, signal) {
      await new Promise(resolve => signal.addEventListener('abort', resolve, { once: true }))
      yield []
    }, { logger: quiet })
    try {
      await assert.rejects(askAll(b, a.peerId, 'test', headsProtocol, {}, { timeoutMs: 200 }), (err: unknown) => err instanceof WireError && err.code === 'timeout')
    } finally {
      await slowHeads.close()
    }
  })

  it('close() aborts the answers in flight and resolves once they ended', async () => {
    const slow = served[0]
    const reading = (async () => { for await (const _ of request(b, a.peerId, '/t/slow/1', Uint8Array.of(1), { maxResponseBytes: 16, maxFrames: 4, signal: AbortSignal.timeout(10_000) })) { /* drain */ } })()
    const t0 = Date.now()
    while (slow.inFlight === 0 && Date.now() - t0 < 5000) await new Promise(resolve => setImmediate(resolve))
    assert.equal(slow.inFlight, 1, 'one answer in flight')
    await slow.close()
    assert.equal(slow.inFlight, 0)
    await assert.rejects(reading, 'the client sees the stream end early')
  })
})
