import assert from 'node:assert/strict'
import type { DecideOutput, Message } from '@ecandle/consensus'
import type { EpochValue } from '@ecandle/protocol'
import { EpochInstance, type InstanceEffects } from '../../src/agreement/instance.js'
import { Serial } from '../../src/agreement/lock.js'
import { FakeClock, realPause } from './fakes.js'

const validators = ['v0', 'v1', 'v2', 'v3']
const timeouts = { proposeMs: 3000, prevoteMs: 1000, precommitMs: 1000, deltaMs: 1000 }
const value = (n: number): { id: string, value: EpochValue } => ({ id: String(n).repeat(64).slice(0, 64), value: { epoch: 7, prev: null, cut: [], root: String(n).repeat(64).slice(0, 64), gov: [], state: '00'.repeat(32), next: '00'.repeat(32) } })

/** Four instances whose messages travel through `deliver` (a fake network): "signatures" are the messages as JSON. */
function network (o: { silent?: string[], drop?: (from: string, to: string) => boolean } = {}) {
  const clock = new FakeClock(1_000_000)
  const journal: string[] = []
  const decided = new Map<string, DecideOutput<EpochValue>>()
  const published = new Map<string, number>()
  const nodes = new Map<string, EpochInstance>()
  const sigs = new Map<string, Message<EpochValue>>()
  const locks = new Map<string, Serial>()
  const into = (id: string, fn: () => Promise<void>): void => { locks.get(id)!.spawn(fn) }
  for (const self of validators) {
    const lock = new Serial((err) => { journal.push(`${self} error ${String(err)}`) })
    const effects: InstanceEffects = {
      persist: async (s) => { journal.push(`${self} persist r${s.round} ${s.step} sent=${s.sent.length}`) },
      sign: (m) => { const b = new TextEncoder().encode(JSON.stringify(m)); sigs.set(Buffer.from(b).toString('hex'), m); return b },
      publish: async (msgs) => {
        journal.push(`${self} publish ${msgs.length}`)
        published.set(self, (published.get(self) ?? 0) + 1)
        if (o.silent?.includes(self)) return
        for (const [to, inst] of nodes) {
          if (to === self || o.drop?.(self, to) === true) continue
          for (const b of msgs) {
            const m = sigs.get(Buffer.from(b).toString('hex'))!
            setImmediate(() => { into(to, async () => { await inst.onMessage(m.type === 'proposal' ? { ...m, signature: b, valid: true } : { ...m, signature: b }) }) })
          }
        }
      },
      decide: async (d) => { decided.set(self, d) },
      evidence: async () => { journal.push(`${self} evidence`) }
    }
    locks.set(self, lock)
    nodes.set(self, new EpochInstance({ validators, self, epoch: 7, timeouts, rebroadcastMs: 1000 }, effects, clock, (fn) => { lock.spawn(fn) }))
  }
  return { clock, journal, decided, published, nodes, locks }
}

async function drive (clock: FakeClock, done: () => boolean, maxMs = 60_000): Promise<void> {
  for (let t = 0; t < maxMs && !done(); t += 100) { clock.advance(100); await realPause(1) }
}

describe('agreement: EpochInstance (one Tendermint per epoch, effects through an interface, fake clock and network)', () => {
  it('four instances decide one value in round 0; state is persisted before each publish', async () => {
    const n = network()
    for (const [self, inst] of n.nodes) await n.locks.get(self)!.run(async () => { await inst.start(value(validators.indexOf(self))) })
    await drive(n.clock, () => n.decided.size === 4)
    assert.equal(n.decided.size, 4)
    const ids = new Set([...n.decided.values()].map(d => d.valueId))
    assert.deepEqual([...ids], [value(3).id], 'the proposer of round 0 of epoch 7 is validators[(7 + 0) % 4] = v3')
    assert.deepEqual([...new Set([...n.decided.values()].map(d => d.round))], [0])
    for (const d of n.decided.values()) assert.ok(d.precommits.length >= 3 && d.precommits.every(p => p.signature instanceof Uint8Array), 'a quorum of signed precommits')
    for (const self of validators) {
      const mine = n.journal.filter(l => l.startsWith(`${self} `))
      const firstPublish = mine.findIndex(l => l.includes('publish'))
      assert.ok(firstPublish > 0 && mine.slice(0, firstPublish).some(l => l.includes('persist')), `${self}: persisted before it first published (${mine.slice(0, 3).join(' | ')})`)
    }
    for (const inst of n.nodes.values()) assert.equal(inst.active, false, 'decided: inactive')
    assert.equal(n.clock.pending, 0, 'decided instances leave no timer behind')
  })

  it('a silent proposer: the others time out and decide in a later round', async () => {
    const n = network({ silent: ['v3'] })
    for (const [self, inst] of n.nodes) await n.locks.get(self)!.run(async () => { await inst.start(value(validators.indexOf(self))) })
    await drive(n.clock, () => ['v0', 'v1', 'v2'].every(v => n.decided.has(v)))
    const rounds = ['v0', 'v1', 'v2'].map(v => n.decided.get(v)?.round)
    assert.ok(rounds.every(r => r !== undefined && r >= 1), `decided after round 0 timed out (rounds ${rounds.join(',')})`)
    assert.equal(new Set(['v0', 'v1', 'v2'].map(v => n.decided.get(v)!.valueId)).size, 1)
  })

  it('messages lost before anyone listens are sent again after a quiet period', async () => {
    let lossy = true
    const n = network({ drop: () => lossy })
    for (const [self, inst] of n.nodes) await n.locks.get(self)!.run(async () => { await inst.start(value(validators.indexOf(self))) })
    await drive(n.clock, () => false, 500)
    assert.equal(n.decided.size, 0)
    const before = n.published.get('v0') ?? 0
    lossy = false
    await drive(n.clock, () => n.decided.size === 4, 10_000)
    assert.equal(n.decided.size, 4)
    assert.ok((n.published.get('v0') ?? 0) > before, 'v0 sent its messages again')
  })

  it('stop() clears its timers and ignores anything after', async () => {
    const n = network({ silent: validators })
    const inst = n.nodes.get('v0')!
    await n.locks.get('v0')!.run(async () => { await inst.start(value(0)) })
    assert.ok(n.clock.pending > 0)
    for (const i of n.nodes.values()) i.stop()
    assert.equal(n.clock.pending, 0)
    await inst.onMessage({ type: 'prevote', epoch: 7, round: 0, from: 'v1', valueId: null })
    assert.equal(n.decided.size, 0)
  })
})
