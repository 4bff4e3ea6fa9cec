import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Message, PersistentState } from '@ecandle/consensus'
import type { EpochValue } from '@ecandle/protocol'
import { VoteGuard, VoteGuardRefusal } from '../../src/agreement/vote-guard.js'

const ids = { network: 'net-1', hub: '12D3KooWself' }
const A = 'a'.repeat(64)
const B = 'b'.repeat(64)
const value = {} as EpochValue // the guard looks at value ids only

const proposal = (epoch: number, round: number, valueId: string, validRound = -1): Message<EpochValue> => ({ type: 'proposal', epoch, round, from: ids.hub, valueId, value, validRound })
const vote = (type: 'prevote' | 'precommit', epoch: number, round: number, valueId: string | null): Message<EpochValue> => ({ type, epoch, round, from: ids.hub, valueId })
const state = (epoch: number, sent: Array<Message<EpochValue>>): PersistentState<EpochValue> => ({
  epoch, round: Math.max(0, ...sent.map(m => m.round)), step: 'prevote', lockedValue: null, lockedRound: -1, validValue: null, validRound: -1, sent
})

describe('vote guard: what this key signed, beside hub.key', () => {
  let dir: string
  let path: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ecandle-guard-'))
    path = join(dir, 'vote-guard.json')
  })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('records each new message durably (mode 0600, no temp file left), and a reloaded guard holds the same', async () => {
    const g = await VoteGuard.load(path, ids)
    assert.equal(g.problem, undefined)
    assert.equal(g.epoch, -1)
    assert.ok(!existsSync(path), 'nothing is written before something is signed')
    assert.equal(await g.admit(state(3, [proposal(3, 0, A)])), true)
    assert.throws(() => { g.check(vote('prevote', 3, 0, A)) }, VoteGuardRefusal, 'a message not recorded first is not signed')
    assert.equal(await g.admit(state(3, [proposal(3, 0, A), vote('prevote', 3, 0, A)])), true)
    // The same state again (persisted at a step change with nothing new): no write.
    assert.equal(await g.admit(state(3, [proposal(3, 0, A), vote('prevote', 3, 0, A)])), false)
    assert.equal(g.writes, 2)
    g.check(proposal(3, 0, A))
    g.check(vote('prevote', 3, 0, A))
    assert.equal((await stat(path)).mode & 0o777, 0o600)
    assert.ok(!existsSync(`${path}.tmp`))
    assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), {
      version: 1, network: ids.network, hub: ids.hub, epoch: 3, round: 0,
      signed: [{ type: 'proposal', value: A, validRound: -1 }, { type: 'prevote', value: A }]
    })
    const again = await VoteGuard.load(path, ids)
    assert.deepEqual(again.record, g.record)
    again.check(vote('prevote', 3, 0, A))

    // A new round starts a new record: the older rounds are behind us for good.
    await g.admit(state(3, [proposal(3, 0, A), vote('prevote', 3, 0, A), vote('prevote', 3, 1, null)]))
    assert.deepEqual([g.epoch, g.round, g.record.signed], [3, 1, [{ type: 'prevote', value: null }]])
  })

  it('refuses a conflicting message of a slot signed, an earlier round and an earlier epoch, and writes nothing then', async () => {
    const g = await VoteGuard.load(path, ids)
    await g.admit(state(5, [vote('prevote', 5, 2, A)]))
    const before = await readFile(path, 'utf8')
    const refusals: Array<[Array<Message<EpochValue>>, RegExp]> = [
      [[vote('prevote', 5, 2, B)], /signed prevote aaaaaaaaaaaa, not prevote bbbbbbbbbbbb/],
      [[vote('prevote', 5, 2, null)], /not prevote nil/],
      [[vote('precommit', 5, 1, A)], /round 1 is before round 2/],
      [[vote('prevote', 4, 7, A)], /epoch 4 is before epoch 5/]
    ]
    for (const [sent, why] of refusals) {
      await assert.rejects(g.admit(state(sent[0].epoch, sent)), (err: unknown) => err instanceof VoteGuardRefusal && why.test(err.message))
      assert.throws(() => { g.check(sent[0]) }, VoteGuardRefusal)
    }
    // A proposal differs by its validRound too.
    await g.admit(state(6, [proposal(6, 0, A, -1)]))
    await assert.rejects(g.admit(state(6, [proposal(6, 0, A, 0)])), VoteGuardRefusal)
    assert.equal(g.writes, 2)
    // Another message in the slot's round, and the next epoch, are fine.
    await g.admit(state(6, [proposal(6, 0, A, -1), vote('prevote', 6, 0, null)]))
    assert.equal(g.conflict(vote('prevote', 7, 0, B)), undefined)
    assert.notEqual(before, await readFile(path, 'utf8'))
  })

  it('a write that fails leaves the file and the record as they were (the temp file is never the guard)', async () => {
    const g = await VoteGuard.load(path, ids)
    await g.admit(state(1, [vote('prevote', 1, 0, A)]))
    const before = await readFile(path, 'utf8')
    await mkdir(`${path}.tmp`) // the temp file cannot be opened
    await assert.rejects(g.admit(state(1, [vote('prevote', 1, 0, A), vote('precommit', 1, 0, A)])), (err: NodeJS.ErrnoException) => err.code === 'EISDIR')
    assert.equal(await readFile(path, 'utf8'), before)
    assert.throws(() => { g.check(vote('precommit', 1, 0, A)) }, VoteGuardRefusal, 'not signed: it was not recorded')
    await rm(`${path}.tmp`, { recursive: true })
    // A stale temp file of a crash mid-write (other content, other mode) is ignored when loading, replaced when writing.
    await writeFile(`${path}.tmp`, '{"half', { mode: 0o644 })
    assert.deepEqual((await VoteGuard.load(path, ids)).record, g.record)
    await g.admit(state(1, [vote('prevote', 1, 0, A), vote('precommit', 1, 0, A)]))
    assert.equal((await stat(path)).mode & 0o777, 0o600)
    assert.equal((await VoteGuard.load(path, ids)).record.signed.length, 2)
  })

  it('a corrupt, empty or foreign file: a clear problem, and it refuses every message', async () => {
    const cases: Array<[string, RegExp]> = [
      ['{"version":1,"network":', /not a valid vote guard/],
      ['', /not a valid vote guard/],
      [JSON.stringify({ version: 1, network: ids.network, hub: ids.hub, epoch: 2, round: 0, signed: [{ type: 'prevote', value: 'zz' }] }), /signed\[0\]\.value/],
      [JSON.stringify({ version: 2, network: ids.network, hub: ids.hub, epoch: 2, round: 0, signed: [] }), /version 2/],
      [JSON.stringify({ version: 1, network: ids.network, hub: 'someone-else', epoch: 2, round: 0, signed: [{ type: 'prevote', value: null }] }), /vote guard of hub someone-else/]
    ]
    for (const [text, why] of cases) {
      await writeFile(path, text)
      const g = await VoteGuard.load(path, ids)
      assert.match(g.problem ?? '', why, text)
      assert.throws(() => { g.check(vote('prevote', 9, 0, A)) }, VoteGuardRefusal)
      await assert.rejects(g.admit(state(9, [vote('prevote', 9, 0, A)])), VoteGuardRefusal)
      assert.equal(g.covers(9, state(9, [vote('prevote', 9, 0, A)])), false)
      assert.equal(await readFile(path, 'utf8'), text, 'a broken guard is never overwritten')
    }
    await rm(path)
    await mkdir(path)
    assert.match((await VoteGuard.load(path, ids)).problem ?? '', /cannot be read \(EISDIR\)/)
  })

  it('a guard of another network does not bind this one (its messages cannot collide)', async () => {
    await writeFile(path, JSON.stringify({ version: 1, network: 'old-net', hub: ids.hub, epoch: 40, round: 3, signed: [{ type: 'prevote', value: null }] }))
    const g = await VoteGuard.load(path, ids)
    assert.equal(g.problem, undefined)
    assert.equal(g.epoch, -1)
  })

  it('covers: whether the database holds every message the guard records for an epoch', async () => {
    const g = await VoteGuard.load(path, ids)
    await g.admit(state(8, [proposal(8, 1, A), vote('prevote', 8, 1, A)]))
    const full = state(8, [vote('prevote', 8, 0, null), proposal(8, 1, A), vote('prevote', 8, 1, A)])
    assert.equal(g.covers(8, full), true)
    assert.equal(g.covers(8, state(8, [vote('prevote', 8, 0, null), proposal(8, 1, A)])), false, 'an older save of that epoch')
    assert.equal(g.covers(8, undefined), false, 'no saved state (a wiped database)')
    assert.equal(g.covers(8, state(7, [vote('prevote', 7, 0, A)])), false, 'a save of an earlier epoch')
    assert.equal(g.covers(9, undefined), true, 'an epoch after the guard\'s: nothing signed there yet')
    assert.equal(g.covers(7, full), false, 'an epoch before the guard\'s')
  })
})
