import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { VoteMsg } from '@ecandle/consensus'
import { encodeCertificate, genesisValidators, noGovernance, signConsensus, ValidationError, valueIdOf, verifyCertificate, type EpochValue, type VerifiedCertificate } from '@ecandle/protocol'
import { fixture } from '@ecandle/protocol/testing'
import { Store } from '@ecandle/store'
import { CertificateService, type CertificatePeers } from '../../src/agreement/certificates.js'
import { CertificateRepository } from '../../src/db/index.js'
import { quietLogger } from './fakes.js'

describe('agreement: CertificateService (assemble, verify once, canonical copy, catch up)', () => {
  const f = fixture() // 2 validators: a quorum is both
  let dir: string
  let store: Store
  let repo: CertificateRepository
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ecandle-certs-'))
    store = await Store.open(dir, f.net.id)
    repo = new CertificateRepository(store, f.net, genesisValidators(f.net))
  })
  after(async () => { await store.close(); await rm(dir, { recursive: true, force: true }) })

  const value = (epoch: number, root = 'ab'): EpochValue => ({ epoch, prev: null, cut: f.hubIds.map(hub => ({ hub, seq: 0, id: null })), root: root.repeat(32), ...noGovernance(f.net) })
  const precommit = (i: number, v: EpochValue, round: number, signed = true): VoteMsg => {
    const m: VoteMsg = { type: 'precommit', epoch: v.epoch, round, from: f.hubIds[i], valueId: valueIdOf(v) }
    return signed ? { ...m, signature: signConsensus(f.net, f.hubs[i], m) } : m
  }
  const cert = (v: EpochValue, round = 0): VerifiedCertificate => service().assemble(v, round, [precommit(0, v, round), precommit(1, v, round)])
  const warnings: string[] = []
  const service = (peers: CertificatePeers = { peers: () => [], page: async () => [] }): CertificateService =>
    new CertificateService({ net: f.net, self: f.hubIds[0], signer: f.hubs[0], repo, peers, logger: { ...quietLogger, warn: (_o: object, m: string) => { warnings.push(m) } } })

  it('assembles the canonical certificate of a decision, signing our own precommit if it came back unsigned', () => {
    const v = value(0)
    const c = service().assemble(v, 2, [precommit(0, v, 2, false), precommit(1, v, 2)])
    assert.deepEqual(c.signers, f.hubIds)
    assert.equal(c.round, 2)
    assert.equal(verifyCertificate(f.net, c.bytes).valueId, valueIdOf(v))
    assert.deepEqual(c.bytes, encodeCertificate(f.net, { value: v, round: 2, signatures: c.signatures }))
  })

  it('verifies on receipt (REJECT naming the fault); what it stores reads back without verifying again', async () => {
    const c = cert(value(3))
    const forged = Uint8Array.from(c.bytes)
    forged[forged.length - 1] ^= 1
    assert.throws(() => service().verify(forged), (err: unknown) => err instanceof ValidationError && err.action === 'REJECT' && err.code === 'certificate-signature')
    await repo.put(3, service().verify(c.bytes))
    const back = await repo.get(3)
    assert.deepEqual([back?.valueId, back?.round, back?.signers], [c.valueId, 0, f.hubIds])
    assert.equal(Buffer.from(back!.bytes).toString('hex'), Buffer.from(c.bytes).toString('hex'))
  })

  it('keeps the most canonical copy of a value: lowest round, then lowest signers', async () => {
    const s = service()
    const v = value(10)
    const r1 = cert(v, 1)
    const r0 = cert(v, 0)
    s.keepCandidate(r0, 9)
    assert.equal(s.canonical(r1), r0, 'a kept round-0 copy beats our round-1 decision')
    assert.equal(s.canonical(cert(value(10, 'cd'), 0)).valueId, valueIdOf(value(10, 'cd')), 'another value is not a copy')
    s.decided(10)
    assert.equal(s.canonical(r1), r1, 'candidates of decided epochs are dropped')
    s.keepCandidate(cert(value(500)), 9)
    assert.equal(s.canonical(cert(value(500), 3)).round, 3, 'too far ahead: not kept')
  })

  it('for a decided epoch: stores a better copy, forwards the canonical one of the last epoch, refuses another value', async () => {
    const s = service()
    const v = value(20)
    await repo.put(20, cert(v, 1))
    assert.equal(await s.known(cert(v, 1), 20), true, 'the very copy we hold, of the last epoch: forwarded')
    assert.equal(await s.known(cert(v, 1), 21), false, 'an older epoch: not forwarded')
    assert.equal(await s.known(cert(v, 0), 20), true, 'a better copy: stored and forwarded')
    assert.equal((await repo.get(20))?.round, 0)
    assert.equal(await s.known(cert(v, 1), 20), false, 'now a worse copy')
    await assert.rejects(s.known(cert(value(20, 'ee')), 20), (err: unknown) => err instanceof ValidationError && err.code === 'conflicting-certificate')
    assert.equal(await s.known(cert(value(99)), 99), false, 'not decided here')
  })

  it('reconciles recent epochs with one peer in turn: a differing copy is verified and kept if more canonical, our own bytes cost nothing', async () => {
    const v40 = value(40)
    const v41 = value(41)
    await repo.put(40, cert(v40, 1)) // we kept a round-1 copy (the canonical round-0 one went by while we were away)
    await repo.put(41, cert(v41, 0))
    const asked: string[] = []
    const served = [cert(v40, 0).bytes, cert(v41, 0).bytes, new Uint8Array([9, 9]), cert(value(42)).bytes]
    const s = service({ peers: () => ['a', 'b'], page: async (peer, from) => { asked.push(`${peer}@${from}`); return served } })
    const handed: number[] = []
    const keep = async (c: VerifiedCertificate): Promise<void> => { handed.push(c.value.epoch); await s.known(c, 41) }
    await s.reconcile(41, keep)
    assert.deepEqual(handed, [40], 'the same bytes as ours (41) are skipped, garbage is not kept, an epoch past ours (42) is left to the catch-up')
    assert.equal((await repo.get(40))?.round, 0, 'the more canonical copy is stored')
    await s.reconcile(41, keep)
    assert.deepEqual(asked, ['a@26', 'b@26'], `peers in turn, from ${41 - 16 + 1}`)
    assert.deepEqual(handed, [40], 'nothing differs any more')
  })

  it('catches up from the first peer that serves certificates, verifying each; a bad one ends that peer', async () => {
    const good = [cert(value(30)), cert(value(31))]
    const asked: string[] = []
    const s = service({
      peers: () => ['down', 'liar', 'honest'],
      page: async (peer, from) => {
        asked.push(`${peer}@${from}`)
        if (peer === 'down') throw new Error('unreachable')
        if (peer === 'liar') return [good[0].bytes, new Uint8Array([1, 2, 3]), good[1].bytes]
        return good.map(c => c.bytes)
      }
    })
    const adopted: string[] = []
    warnings.length = 0
    await s.catchUp(() => 30, async (c, peer) => { adopted.push(`${peer}:${c.value.epoch}`) })
    assert.deepEqual(asked, ['down@30', 'liar@30'])
    assert.deepEqual(adopted, ['liar:30'], 'the garbage frame stopped the liar; the rest of its page is not taken')
    assert.deepEqual(warnings, ['peer served a bad certificate'])
    // IGNOREd certificates (e.g. known epochs) do not stop it.
    const again: string[] = []
    await service({ peers: () => ['honest'], page: async () => good.map(c => c.bytes) }).catchUp(() => 30, async (c) => {
      again.push(String(c.value.epoch))
      if (c.value.epoch === 30) throw new ValidationError('IGNORE', 'known-epoch', 'decided')
    })
    assert.deepEqual(again, ['30', '31'])
  })
})
