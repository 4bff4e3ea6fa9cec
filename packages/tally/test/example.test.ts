import assert from 'node:assert/strict'
import { decodeLeaf, explain, proofLeaf, proveAccount, tally, tallyLeaves, toHex, verifyProof } from '../src/index.js'
import { workedExample } from './fixtures.js'

/** The README's worked example, number for number. */
describe('worked example (README)', () => {
  const r = tally(workedExample())

  it('statuses', () => {
    assert.deepEqual(
      r.statuses.map((s) => [s.hub, s.seq, s.index, s.device, s.counter, s.reason ?? 'counted', s.countedMwh, s.partial]),
      [
        ['h1', 1, 0, 'd1', 9, 'counted', 600, false],
        ['h1', 1, 1, 'd1', 12, 'counted', 1800, false],
        ['h1', 2, 0, 'd1', 13, 'counted', 600, true],
        ['h1', 2, 1, 'd1', 14, 'over-cap', 0, false],
        ['h1', 3, 0, 'd2', 1, 'counted', 1000, false],
        ['h1', 3, 1, 'd2', 1, 'duplicate', 0, false],
        ['h1', 4, 0, 'd2', 2, 'implausible', 0, false],
        ['h1', 5, 0, 'd2', 3, 'equivocated', 0, false],
        ['h2', 1, 0, 'd3', 5, 'equivocated', 0, false],
        ['h2', 1, 1, 'd3', 5, 'equivocated', 0, false],
        ['h2', 2, 0, 'd9', 1, 'unregistered', 0, false],
        ['h2', 2, 1, 'd1', 15, 'wrong-hub', 0, false],
        ['h2', 3, 0, 'd3', 6, 'counted', 500, false]
      ]
    )
  })

  it('device rewards', () => {
    assert.deepEqual(
      r.devices.map((d) => [d.device, d.countedMwh, d.reward, d.capex, d.opex]),
      [
        ['d1', 3000n, 667n, 166n, 501n],
        ['d2', 1000n, 222n, 55n, 167n],
        ['d3', 500n, 111n, 27n, 84n]
      ]
    )
  })

  it('accounts', () => {
    assert.deepEqual(
      r.accounts.map((a) => [a.account, a.epochAmount, a.cumulative]),
      [
        ['aaaa', 221n, 5221n],
        ['bbbb', 501n, 801n],
        ['cccc', 194n, 194n],
        ['dddd', 84n, 84n],
        ['eeee', 0n, 42n]
      ]
    )
  })

  it('totals and next state', () => {
    assert.deepEqual(r.totals, { countedMwh: 4500n, emission: 1000n, prevDust: 1n, distributable: 1001n, paid: 1000n, dust: 1n })
    assert.equal(r.next.epoch, 7)
    assert.equal(r.next.dust, 1n)
    assert.deepEqual(Object.keys(r.next).sort(), ['cumulative', 'dust', 'epoch'], 'no per-device counter state is carried')
    assert.deepEqual([...r.next.cumulative], [['aaaa', 5221n], ['bbbb', 801n], ['cccc', 194n], ['dddd', 84n], ['eeee', 42n]])
  })

  it('leaves and root are pinned (any change to the encoding breaks this)', () => {
    const leaves = tallyLeaves(r)
    assert.equal(leaves.length, 9)
    assert.equal(
      toHex(leaves[0]),
      'a5616b61616565706f63680766616d6f756e746130676163636f756e7464656565656a63756d756c6174697665623432'
    )
    assert.deepEqual(decodeLeaf(leaves[0]), { k: 'a', account: 'eeee', epoch: 7, amount: 0n, cumulative: 42n })
    assert.deepEqual(
      leaves.map((l) => decodeLeaf(l)).map((l) => (l.k === 'a' ? `a:${l.account}` : l.k === 'd' ? `d:${l.device}` : 's')),
      ['a:eeee', 'a:dddd', 'a:cccc', 'a:aaaa', 'a:bbbb', 's', 'd:d3', 'd:d2', 'd:d1']
    )
    assert.equal(r.root, '847cefccb67a44631f6ced5182c331ad3575cd3f0e322dadd0555b10463d5ea9')
  })

  it('proof for account cccc', () => {
    const p = proveAccount(r, 'cccc')
    assert.equal(verifyProof(p, r.root), true)
    assert.deepEqual(proofLeaf(p), { k: 'a', account: 'cccc', epoch: 7, amount: 194n, cumulative: 194n })
    assert.equal(p.path.length, 4)
  })

  it('explain(d1)', () => {
    const e = explain(r, 'd1')
    assert.deepEqual(e.byStatus, { counted: 3, 'over-cap': 1, 'wrong-hub': 1 })
    assert.match(e.text, /reward floor\(1001 \* 3000 \/ 4500\) = 667/)
  })
})
