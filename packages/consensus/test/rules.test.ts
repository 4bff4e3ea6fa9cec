import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  Tendermint, type InputMessage, type Message, type Output, type PersistentState, type Step, type VoteMsg
} from '../src/index.js'

// validators a b c d, epoch 0: proposer(r) = [a, b, c, d][r % 4]; n = 4, f = 1, quorum = 3.
const VALIDATORS = ['a', 'b', 'c', 'd']
const TIMEOUTS = { proposeMs: 100, prevoteMs: 50, precommitMs: 60, deltaMs: 10 }
const V = { id: '#v', value: 'v' }
const W = { id: '#w', value: 'w' }

const node = (self: string, restore?: PersistentState<string>): Tendermint<string> =>
  new Tendermint<string>({ validators: VALIDATORS, self, epoch: 0, timeouts: TIMEOUTS, restore })
const proposal = (round: number, from: string, v: { id: string, value: string }, validRound = -1, valid = true): InputMessage<string> =>
  ({ type: 'proposal', epoch: 0, round, from, valueId: v.id, value: v.value, validRound, valid })
const vote = (type: 'prevote' | 'precommit', round: number, from: string, valueId: string | null, signature?: string): VoteMsg =>
  ({ type, epoch: 0, round, from, valueId, ...(signature ? { signature } : {}) })
const prevote = (round: number, from: string, valueId: string | null): VoteMsg => vote('prevote', round, from, valueId)
const precommit = (round: number, from: string, valueId: string | null, sig?: string): VoteMsg => vote('precommit', round, from, valueId, sig)

const feed = (tm: Tendermint<string>, ...msgs: InputMessage<string>[]): Output<string>[] => msgs.flatMap((m) => tm.onMessage(m))
const sent = (outs: Output<string>[]): Message<string>[] => outs.flatMap((o) => (o.type === 'broadcast' ? [o.msg] : []))
const sentVotes = (outs: Output<string>[]): string[] =>
  sent(outs).map((m) => `${m.type}:${m.round}:${m.valueId ?? 'nil'}`)

/** d, locked on v in round 0 (prevoted and precommitted v). */
function lockedOnV (): Tendermint<string> {
  const d = node('d')
  d.start(W)
  const outs = feed(d, proposal(0, 'a', V), prevote(0, 'a', V.id), prevote(0, 'b', V.id))
  assert.deepEqual(sentVotes(outs), ['prevote:0:#v', 'precommit:0:#v'])
  return d
}

describe('Tendermint rules', function () {
  it('StartRound: a proposer proposes getValue() and prevotes it; others schedule timeoutPropose (lines 11-21, 22)', function () {
    const a = node('a')
    const outs = a.start(V)
    assert.deepEqual(outs.map((o) => o.type), ['persist', 'broadcast', 'broadcast'])
    assert.deepEqual(sent(outs)[0], { type: 'proposal', epoch: 0, round: 0, from: 'a', valueId: '#v', value: 'v', validRound: -1 })
    assert.deepEqual(sentVotes(outs).slice(1), ['prevote:0:#v'])
    const b = node('b')
    assert.deepEqual(b.start(W).filter((o) => o.type === 'schedule-timeout'), [{ type: 'schedule-timeout', step: 'propose', round: 0, ms: 100 }])
  })

  it('line 22: prevotes a valid proposal, nil for an invalid one; timeoutPropose → prevote nil (line 57)', function () {
    const b = node('b')
    b.start(W)
    assert.deepEqual(sentVotes(feed(b, proposal(0, 'a', V))), ['prevote:0:#v'])
    const c = node('c')
    c.start(W)
    assert.deepEqual(sentVotes(feed(c, proposal(0, 'a', V, -1, false))), ['prevote:0:nil'])
    const d = node('d')
    d.start(W)
    assert.deepEqual(sentVotes(d.onTimeout({ step: 'propose', round: 0 })), ['prevote:0:nil'])
    assert.deepEqual(d.onTimeout({ step: 'propose', round: 0 }), [], 'a stale timeout does nothing')
  })

  it('ignores other epochs, non-validators, proposals not from the proposer, rounds too far ahead', function () {
    const b = node('b')
    b.start(W)
    assert.deepEqual(b.onMessage({ ...proposal(0, 'a', V), epoch: 1 }), [])
    assert.deepEqual(b.onMessage(proposal(0, 'c', V)), [])
    assert.deepEqual(b.onMessage(prevote(0, 'x', V.id)), [])
    assert.deepEqual(feed(b, prevote(1001, 'a', null), prevote(1001, 'c', null)), [])
    assert.equal(b.round, 0)
    assert.equal(b.step, 'propose')
  })

  it('locking: locked on v, prevotes nil for a different proposal in the next round, v for v (line 23)', function () {
    for (const [value, expected] of [[W, 'nil'], [V, '#v']] as const) {
      const d = lockedOnV()
      feed(d, precommit(1, 'a', null), precommit(1, 'b', null)) // f+1 of round 1 → StartRound(1)
      assert.equal(d.round, 1)
      assert.deepEqual(sentVotes(feed(d, proposal(1, 'b', value))), [`prevote:1:${expected}`])
    }
  })

  it('locking: a proposal with validRound ≥ lockedRound and a POL unlocks (line 29); without the POL nothing happens', function () {
    const d = lockedOnV()
    // A POL for w in round 1 (2f+1 prevotes) also moves d to round 1 (line 55) — without the round-1 proposal.
    feed(d, prevote(1, 'a', W.id), prevote(1, 'b', W.id), prevote(1, 'c', W.id))
    assert.equal(d.round, 1)
    feed(d, precommit(2, 'a', '#x'), precommit(2, 'b', '#x')) // → round 2, proposer c
    assert.equal(d.round, 2)
    assert.deepEqual(sentVotes(feed(d, proposal(2, 'c', W, 1))), ['prevote:2:#w'])

    const e = lockedOnV()
    feed(e, precommit(1, 'a', '#x'), precommit(1, 'b', '#x'), precommit(2, 'a', '#x'), precommit(2, 'b', '#x'))
    assert.equal(e.round, 2)
    assert.deepEqual(sent(feed(e, proposal(2, 'c', W, 1))), [], 'no POL for w in round 1: wait for timeoutPropose')
    assert.deepEqual(sent(feed(e, proposal(2, 'c', W, -1))).length, 0, 'a second proposal of the round is only evidence')
    assert.deepEqual(sentVotes(e.onTimeout({ step: 'propose', round: 2 })), ['prevote:2:nil'])
  })

  it('without a POL a locked node prevotes nil; a POL at validRound = lockedRound unlocks (line 29)', function () {
    const d = lockedOnV() // lockedRound 0; w gets a POL in round 0 only by equivocation
    feed(d, prevote(0, 'a', W.id), prevote(0, 'b', W.id), prevote(0, 'c', W.id)) // a, b equivocate
    feed(d, precommit(2, 'a', '#x'), precommit(2, 'b', '#x')) // → round 2, proposer c
    const d2 = lockedOnV()
    feed(d2, precommit(1, 'a', '#x'), precommit(1, 'b', '#x')) // round 1, proposer b
    assert.deepEqual(sentVotes(feed(d2, proposal(1, 'b', W, -1))), ['prevote:1:nil'])
    assert.equal(d.round, 2)
    assert.deepEqual(sentVotes(feed(d, proposal(2, 'c', W, 0))), ['prevote:2:#w'], 'validRound 0 ≥ lockedRound 0')
  })

  it('a POL older than the lock does not unlock (line 29: lockedRound ≤ vr)', function () {
    const d = node('d')
    d.start(W)
    d.onTimeout({ step: 'propose', round: 0 }) // d prevotes nil in round 0 ...
    feed(d, prevote(0, 'a', W.id), prevote(0, 'b', W.id), prevote(0, 'c', W.id)) // ... but w has a POL in round 0
    feed(d, precommit(1, 'a', '#x'), precommit(1, 'b', '#x')) // → round 1, proposer b
    assert.deepEqual(sentVotes(feed(d, proposal(1, 'b', V), prevote(1, 'a', V.id), prevote(1, 'c', V.id))), ['prevote:1:#v', 'precommit:1:#v'])
    assert.deepEqual(d.state().lockedRound, 1)
    feed(d, precommit(2, 'a', '#x'), precommit(2, 'b', '#x')) // → round 2, proposer c
    assert.deepEqual(sentVotes(feed(d, proposal(2, 'c', W, 0))), ['prevote:2:nil'], 'vr 0 < lockedRound 1')
  })

  it('2f+1 prevotes: any → timeoutPrevote (34, 61); nil → precommit nil (44)', function () {
    const b = node('b')
    b.start(W)
    feed(b, proposal(0, 'a', V)) // prevote v
    const outs = feed(b, prevote(0, 'a', null), prevote(0, 'c', W.id))
    assert.deepEqual(outs.filter((o) => o.type === 'schedule-timeout'), [{ type: 'schedule-timeout', step: 'prevote', round: 0, ms: 50 }])
    assert.deepEqual(feed(b, prevote(0, 'c', W.id)), [], 'duplicate is idempotent')
    assert.deepEqual(sentVotes(b.onTimeout({ step: 'prevote', round: 0 })), ['precommit:0:nil'])

    const c = node('c')
    c.start(W)
    c.onTimeout({ step: 'propose', round: 0 }) // prevote nil
    assert.deepEqual(sentVotes(feed(c, prevote(0, 'a', null), prevote(0, 'b', null))), ['precommit:0:nil'])
  })

  it('2f+1 precommits any → timeoutPrecommit (47) → StartRound(r+1) (65) with linearly growing timeouts', function () {
    const c = node('c')
    c.start(W)
    const outs = feed(c, precommit(0, 'a', null), precommit(0, 'b', V.id), precommit(0, 'd', null))
    assert.deepEqual(outs.filter((o) => o.type === 'schedule-timeout'), [{ type: 'schedule-timeout', step: 'precommit', round: 0, ms: 60 }])
    const next = c.onTimeout({ step: 'precommit', round: 0 })
    assert.equal(c.round, 1)
    assert.deepEqual(next.filter((o) => o.type === 'schedule-timeout'), [{ type: 'schedule-timeout', step: 'propose', round: 1, ms: 110 }])
  })

  it('f+1 messages of a higher round skip rounds (55); one sender is not enough', function () {
    const b = node('d')
    b.start(W)
    feed(b, prevote(5, 'a', null), precommit(5, 'a', null), proposal(5, 'c', V))
    assert.equal(b.round, 0, 'a proposal from a non-proposer and two messages of one sender do not count')
    const outs = feed(b, proposal(5, 'b', V)) // proposer(5) = b
    assert.equal(b.round, 5)
    assert.deepEqual(sentVotes(outs), ['prevote:5:#v'], 'the stored proposal is acted on in the new round')
  })

  it('decides on proposal + 2f+1 precommits (49), certificate carries signatures, own signed vote upgrades', function () {
    const b = node('b')
    b.start(W)
    feed(b, proposal(0, 'a', V), prevote(0, 'a', V.id), prevote(0, 'c', V.id)) // b precommits v
    assert.equal(b.step, 'precommit')
    assert.deepEqual(b.onMessage(precommit(0, 'b', V.id, 'sig-b')), [], 'own vote fed back: harmless')
    const outs = feed(b, precommit(0, 'd', W.id, 'sig-d'), precommit(0, 'c', V.id, 'sig-c'), precommit(0, 'a', V.id, 'sig-a'))
    const dec = outs.find((o) => o.type === 'decide')
    assert.ok(dec && dec.type === 'decide')
    assert.equal(dec.valueId, '#v')
    assert.equal(dec.value, 'v')
    assert.deepEqual(dec.precommits.map((m) => [m.from, m.signature]), [['a', 'sig-a'], ['b', 'sig-b'], ['c', 'sig-c']])
    assert.deepEqual(b.onMessage(precommit(0, 'd', V.id)), [], 'nothing after the decision')
  })

  it('does not decide an invalid value (line 50) but decides an earlier round later', function () {
    const c = node('c')
    c.start(W)
    const outs = feed(c, proposal(0, 'a', V, -1, false), precommit(0, 'a', V.id), precommit(0, 'b', V.id), precommit(0, 'd', V.id))
    assert.equal(outs.filter((o) => o.type === 'decide').length, 0)
    const d = node('d')
    d.start(W)
    feed(d, precommit(1, 'a', W.id), precommit(1, 'b', W.id), precommit(1, 'c', W.id)) // round 1 via f+1
    assert.equal(d.round, 1)
    const dec = feed(d, proposal(1, 'b', W)).find((o) => o.type === 'decide')
    assert.equal(dec?.type === 'decide' && dec.round, 1)
  })

  it('equivocation: evidence once per (sender, round, step); the sender counts once for "2f+1 any"', function () {
    const b = node('b')
    b.start(W)
    b.onTimeout({ step: 'propose', round: 0 }) // b prevotes nil
    const first = prevote(0, 'a', V.id)
    const second = prevote(0, 'a', W.id)
    assert.deepEqual(b.onMessage(first).filter((o) => o.type === 'evidence'), [])
    assert.deepEqual(b.onMessage(second), [{ type: 'evidence', first, second }])
    assert.deepEqual(b.onMessage(prevote(0, 'a', null)), [], 'reported once; only 2 senders so no timeout yet')
    assert.deepEqual(b.onMessage(second), [])
    const p2: InputMessage<string> = { ...proposal(0, 'a', W), signature: 's' }
    feed(b, proposal(0, 'a', V))
    assert.deepEqual(b.onMessage(p2).filter((o) => o.type === 'evidence').length, 1, 'conflicting proposals are evidence too')
  })

  it('persist comes first and contains every message broadcast in the same output', function () {
    const a = node('a')
    const outs = [a.start(V), ...[prevote(0, 'b', V.id), prevote(0, 'c', V.id)].map((m) => a.onMessage(m))]
    for (const o of outs.filter((x) => x.some((y) => y.type === 'broadcast'))) {
      assert.equal(o[0].type, 'persist')
      const st = o[0].type === 'persist' ? o[0].state : undefined
      for (const m of sent(o)) assert.ok(st?.sent.some((s) => JSON.stringify(s) === JSON.stringify(m)))
    }
    const st = a.state()
    assert.deepEqual(JSON.parse(JSON.stringify(st)), st, 'JSON round-trips')
    assert.equal(st.lockedRound, 0)
    assert.deepEqual(st.lockedValue, V)
  })

  it('restore: resumes the round, re-sends the same votes only, never a conflicting one', function () {
    const b = node('b')
    b.start(W)
    let last: PersistentState<string> | undefined
    for (const o of feed(b, proposal(0, 'a', V), prevote(0, 'a', V.id), prevote(0, 'c', V.id))) if (o.type === 'persist') last = o.state
    assert.ok(last)
    const r = node('b', JSON.parse(JSON.stringify(last)) as PersistentState<string>)
    assert.equal(r.round, 0)
    assert.equal(r.step, 'precommit')
    assert.deepEqual(sentVotes(r.start(W)), ['prevote:0:#v', 'precommit:0:#v'])
    // A different proposal and a nil-POL for round 0: no new vote for round 0.
    assert.deepEqual(sent(feed(r, proposal(0, 'a', W), prevote(0, 'a', null), prevote(0, 'c', null), prevote(0, 'd', null))), [])
    assert.deepEqual(sent(r.onTimeout({ step: 'prevote', round: 0 })), [])
    assert.throws(() => node('b', { ...last!, epoch: 1 }))
  })
})

// ---- randomized single-node properties -------------------------------------------------------

type Ev = { kind: 'msg', msg: InputMessage<string> } | { kind: 'timeout', step: Step, round: number } | { kind: 'crash' }

const evArb: fc.Arbitrary<Ev> = fc.oneof(
  { weight: 6, arbitrary: fc.record({
    kind: fc.constant('msg' as const),
    msg: fc.oneof(
      fc.record({ type: fc.constantFrom('prevote' as const, 'precommit' as const), epoch: fc.constant(0), round: fc.nat(3), from: fc.constantFrom(...VALIDATORS), valueId: fc.constantFrom('#v', '#w', null) }),
      fc.tuple(fc.nat(3), fc.constantFrom(V, W), fc.integer({ min: -1, max: 2 }), fc.boolean())
        .map(([round, v, vr, valid]) => proposal(round, VALIDATORS[round % 4], v, Math.min(vr, round - 1), valid))
    )
  }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('timeout' as const), step: fc.constantFrom<Step>('propose', 'prevote', 'precommit'), round: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const) }) }
)

describe('single node under random inputs and crashes', function () {
  it('persist precedes broadcast; restarted incarnations never sign two different messages per (round, step)', function () {
    fc.assert(fc.property(fc.constantFrom(...VALIDATORS), fc.array(evArb, { maxLength: 60 }), (self, evs) => {
      const signed = new Map<string, string>()
      let persisted: PersistentState<string> | undefined
      let tm = node(self)
      const handle = (outs: Output<string>[]): void => {
        let inBatch: PersistentState<string> | undefined
        for (const o of outs) {
          if (o.type === 'persist') { inBatch = o.state; persisted = JSON.parse(JSON.stringify(o.state)) }
          if (o.type !== 'broadcast') continue
          assert.ok(inBatch?.sent.some((s) => JSON.stringify(s) === JSON.stringify(o.msg)), 'broadcast without a preceding persist')
          const key = `${o.msg.type}/${o.msg.round}`
          const val = `${o.msg.valueId}/${o.msg.type === 'proposal' ? o.msg.validRound : ''}`
          assert.equal(signed.get(key) ?? val, val, `conflicting ${key}`)
          signed.set(key, val)
        }
      }
      handle(tm.start(self === 'a' ? V : W))
      for (const ev of evs) {
        if (ev.kind === 'crash') {
          tm = persisted ? node(self, persisted) : node(self) // messages received are lost
          handle(tm.start(self === 'a' ? V : W))
        } else if (ev.kind === 'timeout') {
          handle(tm.onTimeout(ev))
        } else {
          handle(tm.onMessage(ev.msg))
          handle(tm.onMessage(ev.msg)) // duplicates are idempotent
        }
      }
    }), { numRuns: 2000 })
  })
})
