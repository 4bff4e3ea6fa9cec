import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { gossipsubInterop } from '@ecandle/protocol'

/** The gossip message id the hub node uses (gossipsubInterop.msgIdFn) against the protocol vectors (packages/protocol/vectors/protocol-v1.json, `gossip`). */
const V = JSON.parse(readFileSync(new URL('../../../protocol/vectors/protocol-v1.json', import.meta.url), 'utf8'))

describe('protocol vectors: gossip message id', () => {
  it('is the raw 32-byte sha256 of the message data', () => {
    assert.ok(V.gossip.messageIds.length >= 2)
    for (const m of V.gossip.messageIds) {
      const id = gossipsubInterop.msgIdFn({ data: new Uint8Array(Buffer.from(m.dataHex, 'hex')) })
      assert.equal(id.byteLength, 32, m.name)
      assert.equal(Buffer.from(id).toString('hex'), m.messageIdHex, m.name)
    }
  })
})
