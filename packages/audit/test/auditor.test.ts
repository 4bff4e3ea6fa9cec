import assert from 'node:assert/strict'
import { decodeEntry, encode, encodeCertificate, encodeConsensusPayload, valueIdOf, verifyCertificate, voteDomain } from '@ecandle/protocol'
import { fixture } from '@ecandle/protocol/testing'
import { decodeLeavesFrame, decodeProofResponse, decodeTallyRequest, encodeLeavesFrame, encodeProofResponse, encodeTallyRequest } from '@ecandle/wire'
import { decodeLeaf, encodeAccountLeaf, merkleRoot } from '@ecandle/tally'
import { Auditor, type Finding } from '../src/index.js'
import { buildHistory, MemorySource, type History } from '../src/testing.js'

function fresh (): History {
  const f = fixture()
  return buildHistory({ net: f.net, hubs: f.hubs, devices: f.devices }, { epochs: 3, reportsPerHub: 300 })
}

function only (fs: Finding[], kind: string, code: string): Finding {
  assert.equal(fs.length, 1, JSON.stringify(fs))
  assert.equal(fs[0].kind, kind, JSON.stringify(fs))
  assert.equal(fs[0].code, code, JSON.stringify(fs))
  return fs[0]
}

describe('Auditor (in-memory source, real signatures)', () => {
  const honest = fresh()
  const account = honest.net.def.devices[0].capex

  it('passes an honest history: certificates linked, account proven each epoch, epoch recomputed', async () => {
    const a = new Auditor(honest.net, new MemorySource(honest))
    const certs = await a.certificates()
    assert.deepEqual(certs.findings, [])
    assert.equal(certs.verified.length, 3)
    const acc = await a.account(account, certs.verified)
    assert.deepEqual(acc.findings, [])
    assert.deepEqual(acc.epochs.map(e => e.cumulative), honest.results.map(r => r.accounts.find(x => x.account === account)?.cumulative))
    for (const e of [0, 1, 2]) {
      const full = await a.epochFull(certs.verified[e], certs.verified[e - 1])
      assert.deepEqual(full.findings, [])
      assert.equal(full.reports, 600)
      assert.equal(full.recomputedRoot, honest.results[e].root)
    }
  })

  it('names a certificate served out of epoch order', async () => {
    const h = fresh()
    h.certs[2] = h.certs[1]
    const r = await new Auditor(h.net, new MemorySource(h)).certificates()
    assert.equal(r.verified.length, 2)
    const f = only(r.findings, 'chain', 'epoch-order')
    assert.match(f.message, /epoch 1 served where epoch 2 was due/)
  })

  it('names a tampered entry by hub and seq', async () => {
    const h = fresh()
    const hub = h.net.validatorIds[1]
    const log = h.logs.get(hub)!
    const e = decodeEntry(log[2])
    log[2] = encode({ p: encode({ ...e.payload, time: e.payload.time + 1 }), s: e.signature })
    const a = new Auditor(h.net, new MemorySource(h))
    const certs = await a.certificates()
    const full = await a.epochFull(certs.verified[1], certs.verified[0])
    const f = only(full.findings, 'entry', 'entry-signature')
    assert.equal(f.hub, hub)
    assert.equal(f.seq, 3)
  })

  it('names a log served short of the cut', async () => {
    const h = fresh()
    const hub = h.net.validatorIds[0]
    h.logs.set(hub, h.logs.get(hub)!.slice(0, 3))
    const a = new Auditor(h.net, new MemorySource(h))
    const certs = await a.certificates()
    const full = await a.epochFull(certs.verified[1], certs.verified[0])
    const f = only(full.findings, 'entry', 'missing')
    assert.equal(f.hub, hub)
    assert.match(f.message, /ends at #4/)
  })

  it('names a leaf set of the previous epoch that does not hash to its certified root', async () => {
    const h = fresh()
    const src = new MemorySource(h)
    const real = src.leaves.bind(src)
    src.leaves = async (e) => (await real(e)).slice(1)
    const a = new Auditor(h.net, src)
    const certs = await a.certificates()
    const full = await a.epochFull(certs.verified[2], certs.verified[1])
    const f = only(full.findings, 'leaves', 'leaves-invalid')
    assert.equal(f.epoch, 1)
  })

  it('names a wrong certified root, leaf by leaf, when the peer serves the leaves it signed', async () => {
    const h = fresh()
    // Colluding signers: a quorum signs a tally that pays one account 1 more (and takes it from dust).
    const f = fixture()
    const r = h.results[1]
    const acc = r.accounts[0]
    const src = new MemorySource(h)
    const forgedLeaves = (await src.leaves(1)).map(l => {
      const x = decodeLeaf(l)
      return x.k === 'a' && x.account === acc.account ? encodeAccountLeaf({ ...x, amount: x.amount + 1n, cumulative: x.cumulative + 1n }) : l
    }).sort(Buffer.compare)
    const c = verifyCertificate(h.net, h.certs[1])
    const value = { ...c.value, root: merkleRoot(forgedLeaves) }
    const valueId = valueIdOf(value)
    h.certs = [h.certs[0], encodeCertificate(h.net, { value, round: 0, signatures: f.hubs.map((s, i): [number, Uint8Array] => [i, s.sign(voteDomain(h.net.id), encodeConsensusPayload({ type: 'precommit', epoch: 1, round: 0, from: h.net.validatorIds[i], valueId }))]) })]
    const real = src.leaves.bind(src)
    src.leaves = async (e) => e === 1 ? forgedLeaves : await real(e)
    const a = new Auditor(h.net, src)
    const certs = await a.certificates()
    const full = await a.epochFull(certs.verified[1], certs.verified[0])
    const fd = only(full.findings, 'tally', 'root-mismatch')
    assert.equal(fd.leaf, `account ${acc.account}`)
    assert.match(fd.message, /recomputed .*certified/)
  })

  it('names a proof for another account, and a missing leaf of an account with a balance', async () => {
    const h = fresh()
    const other = h.results[0].accounts.find(x => x.account !== account)
    const src = new MemorySource(h)
    const real = src.proof.bind(src)
    src.proof = async (e, a) => e === 1 && other !== undefined ? await real(e, other.account) : e === 2 ? { leaf: null, path: [] } : await real(e, a)
    const a = new Auditor(h.net, src)
    const r = await a.account(account, (await a.certificates()).verified)
    const codes = r.findings.map(f => `${f.epoch}:${f.code}`)
    assert.deepEqual(codes, other === undefined ? ['2:missing-leaf'] : ['1:wrong-leaf', '2:missing-leaf'])
  })
})

describe('tally wire messages', () => {
  it('round-trip requests, proofs and leaf frames, and refuse bad shapes', () => {
    assert.deepEqual(decodeTallyRequest(encodeTallyRequest({ epoch: 7, account: null })), { epoch: 7, account: null })
    assert.throws(() => decodeTallyRequest(encodeTallyRequest({ epoch: 7, account: 'XYZ' })), /tally.account/)
    const p = { leaf: new Uint8Array([1, 2]), path: [{ side: 'left' as const, hash: 'aa'.repeat(32) }, { side: 'right' as const, hash: 'bb'.repeat(32) }] }
    assert.deepEqual(decodeProofResponse(encodeProofResponse(p)), p)
    assert.throws(() => decodeProofResponse(encode({ leaf: null, path: [[2, new Uint8Array(32)]] })), /path\[0\]\[0\]/)
    assert.deepEqual(decodeLeavesFrame(encodeLeavesFrame([new Uint8Array([5])])), [new Uint8Array([5])])
    assert.throws(() => decodeLeavesFrame(encode({ leaves: [] })), /1\.\.512 leaves/)
  })
})
