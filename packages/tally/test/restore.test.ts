import assert from 'node:assert/strict'
import { diffLeaves, encodeAccountLeaf, restoreFromLeaves, tally, tallyLeaves } from '../src/index.js'
import { workedExample } from './fixtures.js'

/** A light peer carries state from certified leaves instead of replaying every epoch. */
describe('restoreFromLeaves', () => {
  const input = workedExample()
  const r = tally(input)
  const leaves = tallyLeaves(r)

  it('gives back exactly the state the tally carried forward', () => {
    const restored = restoreFromLeaves(r.epoch, leaves, r.root)
    assert.equal(restored.state.epoch, r.next.epoch)
    assert.equal(restored.state.dust, r.next.dust)
    assert.deepEqual([...restored.state.cumulative].sort(), [...r.next.cumulative].sort())
    assert.equal(restored.summary.paid, r.totals.paid)
  })

  it('the next epoch tallied from restored state has the same root as from the real state', () => {
    const next = { ...input, epoch: r.epoch + 1, segment: [], equivocated: new Set<string>() }
    const a = tally({ ...next, prev: r.next })
    const b = tally({ ...next, prev: restoreFromLeaves(r.epoch, leaves, r.root).state })
    assert.equal(b.root, a.root)
  })

  it('refuses a tampered leaf, a missing leaf, a reordering and another epoch, naming the fault', () => {
    const acc = r.accounts[0]
    const forged = encodeAccountLeaf({ account: acc.account, epoch: r.epoch, amount: acc.epochAmount + 1n, cumulative: acc.cumulative + 1n })
    const i = leaves.findIndex((l) => Buffer.compare(l, encodeAccountLeaf({ account: acc.account, epoch: r.epoch, amount: acc.epochAmount, cumulative: acc.cumulative })) === 0)
    assert.ok(i >= 0)
    const tampered = leaves.slice()
    tampered[i] = forged
    assert.throws(() => restoreFromLeaves(r.epoch, tampered, r.root), /not to the certified root|out of order/)
    assert.throws(() => restoreFromLeaves(r.epoch, leaves.slice(1), r.root), /certified root|summary/)
    assert.throws(() => restoreFromLeaves(r.epoch, [...leaves].reverse(), r.root), /out of order/)
    assert.throws(() => restoreFromLeaves(r.epoch + 1, leaves, r.root), /of epoch 7, not 8/)
  })

  it('diffLeaves names the account whose leaf differs', () => {
    const acc = r.accounts[0]
    const theirs = leaves.map((l) => Buffer.compare(l, encodeAccountLeaf({ account: acc.account, epoch: r.epoch, amount: acc.epochAmount, cumulative: acc.cumulative })) === 0
      ? encodeAccountLeaf({ account: acc.account, epoch: r.epoch, amount: acc.epochAmount + 5n, cumulative: acc.cumulative + 5n })
      : l)
    const d = diffLeaves(leaves, theirs)
    assert.equal(d.length, 1)
    assert.equal(d[0].leaf, `account ${acc.account}`)
    assert.equal(d[0].theirs?.amount, String(acc.epochAmount + 5n))
  })
})
