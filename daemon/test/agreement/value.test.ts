import assert from 'node:assert/strict'
import { noGovernance, valueIdOf, type VerifiedEntry } from '@ecandle/protocol'
import { entry, fixture } from '@ecandle/protocol/testing'
import { buildValue, checkExtends, checkValue, holdsCut, InvalidValue, tallyOf } from '../../src/agreement/value.js'
import { MemoryLogs } from './fakes.js'

describe('agreement: building and checking a value over a log reader', () => {
  const f = fixture() // 2 hubs; fixture entry seq s is stamped at genesis + 100 + s seconds: epoch 1 up to seq 19, epoch 2 from 20
  const chain = (h: number, n: number, counter0 = 0): VerifiedEntry[] => {
    const out: VerifiedEntry[] = []
    for (let s = 1; s <= n; s++) out.push(entry(f, h, s, out[s - 2], [counter0 + 2 * s, counter0 + 2 * s + 1]))
    return out
  }
  const a = chain(0, 21)
  const b = chain(1, 3)
  const logs = (): MemoryLogs => new MemoryLogs().add(...a, ...b)

  it('cuts every log at its last entry stamped ≤ the epoch, and puts the tally root in', async () => {
    const v = await buildValue(f.net, logs(), undefined, 1)
    assert.deepEqual(v.value.cut.map(c => [c.seq, c.id?.toString()]), [[19, a[18].id.toString()], [3, b[2].id.toString()]], 'hub 0 walked back past its two epoch-2 entries')
    assert.equal(v.value.prev, null)
    assert.equal(v.id, valueIdOf(v.value))
    assert.equal(v.value.root, v.tally.root)
    assert.equal(v.tally.totals.countedMwh, BigInt((19 + 3) * 2 * 10), 'every report of the segment counted')
    // Epoch 0 holds nothing: empty cut, still a root.
    const v0 = await buildValue(f.net, logs(), undefined, 0)
    assert.deepEqual(v0.value.cut.map(c => [c.seq, c.id]), [[0, null], [0, null]])
  })

  it('builds on the last decision: never below its cut, segment only after it', async () => {
    const l = logs()
    const first = await buildValue(f.net, l, undefined, 1)
    const basis = { valueId: first.id, value: first.value, next: first.tally.next }
    const second = await buildValue(f.net, l, basis, 2)
    assert.deepEqual(second.value.cut.map(c => c.seq), [21, 3])
    assert.equal(second.value.prev, first.id)
    assert.equal(second.tally.totals.countedMwh, 2n * 2n * 10n, 'only entries 20 and 21 of hub 0 are new')
    // An epoch whose entries are all stamped later keeps the previous cut (here: nothing yet).
    const e0 = await buildValue(f.net, l, undefined, 0)
    const e1 = await buildValue(f.net, l, { valueId: e0.id, value: e0.value, next: e0.tally.next }, 1)
    assert.deepEqual([e0.value.cut.map(c => c.seq), e1.value.cut.map(c => c.seq), e1.value.prev], [[0, 0], [19, 3], e0.id])
  })

  it('checkValue accepts our own value and names what is wrong with others', async () => {
    const l = logs()
    const own = await buildValue(f.net, l, undefined, 1)
    assert.equal((await checkValue(f.net, l, undefined, own.value)).root, own.value.root)
    const bad = async (change: (v: typeof own.value) => void, why: RegExp): Promise<void> => {
      const v = structuredClone(own.value)
      v.cut = own.value.cut.map(c => ({ ...c }))
      change(v)
      await assert.rejects(checkValue(f.net, l, undefined, v), (err: unknown) => err instanceof InvalidValue && why.test(err.message), String(why))
    }
    await bad(v => { v.prev = 'ab'.repeat(32) }, /does not extend/)
    await bad(v => { v.cut[0].id = a[17].id }, /names another entry/)
    await bad(v => { v.cut[0] = { ...v.cut[0], seq: 20, id: a[19].id } }, /later epoch/)
    await bad(v => { v.root = '00'.repeat(32) }, /tally root differs/)
    await bad(v => { v.cut[1] = { ...v.cut[1], seq: 9, id: b[2].id } }, /not held/)
    const basis = { valueId: own.id, value: own.value, next: own.tally.next }
    assert.throws(() => { checkExtends({ ...own.value, epoch: 2, prev: own.id, cut: [{ ...own.value.cut[0], seq: 5 }, own.value.cut[1]] }, basis) }, /goes below the previous cut/)
  })

  it('holdsCut and tallyOf read only what the reader holds', async () => {
    const l = new MemoryLogs().add(...a.slice(0, 5))
    assert.equal(holdsCut(l, [{ hub: f.hubIds[0], seq: 5, id: a[4].id }, { hub: f.hubIds[1], seq: 0, id: null }]), true)
    assert.equal(holdsCut(l, [{ hub: f.hubIds[0], seq: 6, id: a[5].id }, { hub: f.hubIds[1], seq: 0, id: null }]), false)
    await assert.rejects(tallyOf(f.net, l, undefined, { epoch: 1, prev: null, cut: [{ hub: f.hubIds[0], seq: 6, id: a[5].id }, { hub: f.hubIds[1], seq: 0, id: null }], root: '', ...noGovernance(f.net) }), /is not held/)
  })
})
