import assert from 'node:assert/strict'
import { decodeCanonical, ValidationError } from '@ecandle/protocol'
import { fetchCertificates, fetchEntries, networkProtocols, type StreamLike } from '../src/index.js'
import { decidedEpoch, flip, log, net } from './fixtures.js'

const varint = (n: number): number[] => { const o: number[] = []; while (n >= 0x80) { o.push((n & 0x7f) | 0x80); n >>>= 7 } o.push(n); return o }
const frame = (b: Uint8Array): Uint8Array => Uint8Array.from([...varint(b.byteLength), ...b])
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap(p => [...p]))

async function * chunks (bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.byteLength; i += size) yield bytes.slice(i, i + size)
}

/** A node whose every stream answers with `response` bytes and records the request. */
function fakeNode (response: Uint8Array): { node: { dialProtocol: (peer: string, protocol: string) => Promise<StreamLike> }, asked: Array<{ protocol: string, request: unknown }> } {
  const asked: Array<{ protocol: string, request: unknown }> = []
  return {
    asked,
    node: {
      dialProtocol: async (_peer, protocol) => ({
        source: chunks(response, 100),
        sink: async (src: Iterable<Uint8Array>) => {
          const sent = concat(...src)
          asked.push({ protocol, request: decodeCanonical(sent.subarray(1), 'request') })
        },
        abort: () => {}
      })
    }
  }
}

describe('sync protocols', () => {
  it('fetchCertificates sends { from, limit } on the certificates protocol and verifies every frame', async () => {
    const d = decidedEpoch()
    const { node, asked } = fakeNode(frame(d.certificate))
    const certs = await fetchCertificates(node, 'peer', net, { from: 0, limit: 5 })
    assert.deepEqual(asked, [{ protocol: networkProtocols(net).certificates, request: { from: 0, limit: 5 } }])
    assert.deepEqual(certs.map(c => c.valueId), [d.summary.valueId])
    await assert.rejects(fetchCertificates(fakeNode(frame(flip(d.certificate, -1))).node, 'peer', net, { from: 0 }), (err: unknown) => err instanceof ValidationError && err.code === 'certificate-signature')
  })

  it('fetchEntries verifies each entry; a forged one is a ValidationError', async () => {
    const [e1, e2] = log(1, 2)
    const { node, asked } = fakeNode(concat(frame(e1.bytes), frame(e2.bytes)))
    const got = await fetchEntries(node, 'peer', net, { hub: e1.payload.hub, from: 1, limit: 2 })
    assert.deepEqual(got.map(e => e.seq), [1, 2])
    assert.deepEqual(asked[0].request, { hub: e1.payload.hub, from: 1, limit: 2 })
    await assert.rejects(fetchEntries(fakeNode(frame(flip(e1.bytes, -1))).node, 'peer', net, { hub: e1.payload.hub, from: 1 }), (err: unknown) => err instanceof ValidationError && err.code === 'entry-signature')
  })
})
