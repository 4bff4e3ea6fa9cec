import assert from 'node:assert/strict'
import { builderWeights, tally } from '../src/index.js'
import { workedExample } from './fixtures.js'

describe('builder weights (governance)', () => {
  it('each account weighs its cumulative total after the epoch; the total is their sum', () => {
    const r = tally(workedExample())
    const w = builderWeights(r.next)
    assert.equal(w.weightOf('aaaa'), 5221n)
    assert.equal(w.weightOf('eeee'), 42n)
    assert.equal(w.weightOf('nobody'), 0n)
    assert.equal(w.total, 5221n + 801n + 194n + 84n + 42n)
  })
})
