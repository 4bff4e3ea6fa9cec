import assert from 'node:assert/strict'
import { ProtocolError } from '@ecandle/protocol'
import { request, type StreamLike } from '../src/index.js'

const varint = (n: number): number[] => { const o: number[] = []; while (n >= 0x80) { o.push((n & 0x7f) | 0x80); n >>>= 7 } o.push(n); return o }
const frame = (b: Uint8Array): Uint8Array => Uint8Array.from([...varint(b.byteLength), ...b])
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap(p => [...p]))

async function * chunks (bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.byteLength; i += size) yield bytes.slice(i, i + size)
}

/** A node whose every stream answers with `response` cut in chunks of `size`, recording the request bytes. */
function fakeNode (response: Uint8Array, size: number): { node: { dialProtocol: (peer: string, protocol: string) => Promise<StreamLike> }, sent: Uint8Array[] } {
  const sent: Uint8Array[] = []
  return {
    sent,
    node: {
      dialProtocol: async () => ({
        source: chunks(response, size),
        sink: async (src: Iterable<Uint8Array>) => { sent.push(concat(...src)) },
        abort: () => {}
      })
    }
  }
}

async function frames (response: Uint8Array, size: number, maxBytes: number, maxFrames: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const f of request(fakeNode(response, size).node, 'peer', '/t/1', Uint8Array.of(0xa0), { maxResponseBytes: maxBytes, maxFrames, signal: AbortSignal.timeout(5000) })) out.push(f)
  return out
}

describe('length-prefixed framing (the client, on a fake stream)', () => {
  const big = new Uint8Array(300).fill(7) // a two-byte length prefix
  const small = Uint8Array.from([1, 2, 3])

  it('sends one length-prefixed request frame', async () => {
    const { node, sent } = fakeNode(new Uint8Array(0), 1)
    for await (const _ of request(node, 'peer', '/t/1', big, { maxResponseBytes: 10, maxFrames: 1, signal: AbortSignal.timeout(5000) })) { /* drain */ }
    assert.deepEqual(sent, [frame(big)])
  })

  it('reassembles length-prefixed frames from chunks of any size', async () => {
    const bytes = concat(frame(small), frame(big), frame(new Uint8Array(0)), frame(small))
    for (const size of [1, 2, 3, 7, 301, 10_000]) {
      assert.deepEqual(await frames(bytes, size, 1000, 10), [small, big, new Uint8Array(0), small], `chunks of ${size}`)
    }
  })

  it('is bounded and strict: oversize frame, too many frames, a stream cut inside a frame', async () => {
    await assert.rejects(frames(frame(big), 50, 299, 10), ProtocolError)
    await assert.rejects(frames(concat(frame(small), frame(small)), 50, 10, 1), /more than 1 frames/)
    await assert.rejects(frames(frame(big).subarray(0, 100), 50, 1000, 10), /ended inside a frame/)
  })
})
