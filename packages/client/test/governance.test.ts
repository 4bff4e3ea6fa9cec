import assert from 'node:assert/strict'
import { decodeCanonical, peerIdFromPublicKey, verifyOperation, ValidationError } from '@ecandle/protocol'
import { deviceAddOp, govChain, govFixture, op, resolution } from '@ecandle/protocol/testing'
import { ChainFollower, decodeCertificateMessage, fetchResolutions, networkProtocols, type StreamLike } from '../src/index.js'

const f = govFixture()
const idOf = (b: Uint8Array): string => verifyOperation(f.net.id, b).id
const spare = peerIdFromPublicKey(f.spareHubs[0].publicKey)
const hubAdd = op(f, { type: 'hub-add', exp: 10, hub: spare, operator: f.spareOperators[0].publicKey }, { hub: f.spareHubs[0], operator: f.spareOperators[0] })
const devAdd = deviceAddOp(f, { id: 'new-1', key: f.stranger, hub: 0, exp: 10 })
// Epoch 1 adds a fifth validator (from 3), epoch 2 a device (from 3).
const chain = govChain(f, [[], [resolution(f, hubAdd, idOf(hubAdd), f.hubs.slice(0, 3))], [resolution(f, devAdd, idOf(devAdd))], [], []])

describe('ChainFollower (SDK light peer across governance)', () => {
  it('follows certificates across a validator-set change and knows the registry in force', () => {
    const c = new ChainFollower(f.net)
    for (let e = 0; e < 5; e++) {
      const m = c.follow(chain.certs[e], chain.resolutions[e])
      assert.equal(m.epoch, e)
      assert.equal(m.signers.length, e >= 3 ? 5 : 4)
    }
    assert.equal(c.state.epoch, 5)
    assert.deepEqual(c.validatorsFor(5)?.ids, [...f.hubIds, spare])
    assert.equal(c.device('new-1')?.since, 3)
    // The network file alone cannot verify a certificate of the five.
    assert.throws(() => decodeCertificateMessage(f.net, chain.certs[3]), ValidationError)
    assert.equal(decodeCertificateMessage(f.net, chain.certs[3], chain.states[3].validators).epoch, 3)
  })

  it('does not move on a certificate out of turn, or with resolutions withheld', () => {
    const c = new ChainFollower(f.net)
    c.follow(chain.certs[0], chain.resolutions[0])
    assert.throws(() => c.follow(chain.certs[2], chain.resolutions[2]), (err: unknown) => err instanceof ValidationError && err.code === 'epoch-mismatch')
    assert.throws(() => c.follow(chain.certs[1], []), (err: unknown) => err instanceof ValidationError && err.code === 'resolution-missing')
    assert.equal(c.state.epoch, 1)
    c.follow(chain.certs[1], chain.resolutions[1])
    assert.equal(c.state.epoch, 2)
  })

  it('fetchResolutions asks { epoch, ids: [] } on the governance protocol and verifies each frame', async () => {
    const asked: unknown[] = []
    const r = chain.resolutions[1][0]
    const node = {
      dialProtocol: async (_p: string, protocol: string): Promise<StreamLike> => ({
        source: (async function * () { yield Uint8Array.from([...lenPrefix(r.byteLength), ...r]) })(),
        sink: async (src: Iterable<Uint8Array>) => { const b = Uint8Array.from([...src].flatMap(x => [...x])); asked.push({ protocol, request: decodeCanonical(b.subarray(lenPrefix(b.byteLength - 1).length), 'request') }) },
        abort: () => {}
      })
    }
    const got = await fetchResolutions(node, 'peer', f.net, { epoch: 1 })
    assert.deepEqual(got.map(x => x.op.id), [idOf(hubAdd)])
    assert.deepEqual(asked, [{ protocol: networkProtocols(f.net).governance, request: { epoch: 1, ids: [] } }])
  })
})

function lenPrefix (n: number): number[] {
  const o: number[] = []
  while (n >= 0x80) { o.push((n & 0x7f) | 0x80); n >>>= 7 }
  o.push(n)
  return o
}
