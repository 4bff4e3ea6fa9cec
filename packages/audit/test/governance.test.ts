import assert from 'node:assert/strict'
import {
  continueNetwork, parseNetwork, peerIdFromPublicKey, signEndorsement, toHex, verifyOperation, withEndorsements,
  type Network, type NetworkDefinition, type Signer, type VerifiedCertificate
} from '@ecandle/protocol'
import { deviceAddOp, govFixture, op, resolution } from '@ecandle/protocol/testing'
import { Auditor } from '../src/index.js'
import { buildHistory, MemorySource, type History } from '../src/testing.js'

const f = govFixture()
const idOf = (b: Uint8Array): string => verifyOperation(f.net.id, b).id
const spare = peerIdFromPublicKey(f.spareHubs[0].publicKey)
const five: Signer[] = [f.hubs[0], f.hubs[1], f.hubs[2], f.spareHubs[0]]
const hubAdd = op(f, { type: 'hub-add', exp: 10, hub: spare, operator: f.spareOperators[0].publicKey }, { hub: f.spareHubs[0], operator: f.spareOperators[0] })
const devAdd = deviceAddOp(f, { id: 'new-1', key: f.stranger, hub: 1, exp: 10 })
const params = op(f, { type: 'params', exp: 10, set: { emissionPerEpoch: 7000n } }, {})
const hubRemove = op(f, { type: 'hub-remove', exp: 12, hub: f.hubIds[3] }, {})
const retire = op(f, { type: 'device-retire', exp: 12, device: 'h0-d1', capex: f.capex.publicKey, opex: f.opex.publicKey }, { capex: f.capex, opex: f.opex })
const keys = { net: f.net, hubs: f.hubs, devices: f.devices, more: { hubs: f.spareHubs, devices: new Map([['new-1', f.stranger]]) } }

// 1: a fifth hub (votes from 3); 2: a new device (from 3); 3: emission 7000 (from 4), builders' voice carried by capex;
// 4: hub 3 removed (gone from 6); 5: a device retired (from 6).
function governed (o: { params?: Uint8Array } = {}): History {
  return buildHistory(keys, {
    epochs: 8,
    reportsPerHub: 40,
    uncheckedBuilders: o.params !== undefined,
    governance: [
      [], [resolution(f, hubAdd, idOf(hubAdd), f.hubs.slice(0, 3))], [resolution(f, devAdd, idOf(devAdd))],
      [o.params ?? resolution(f, params, idOf(params), five, [[f.capex, true]])],
      [resolution(f, hubRemove, idOf(hubRemove), five)], [resolution(f, retire, idOf(retire))]
    ]
  })
}

describe('Auditor across governance (registry, validator set and parameters decided by vote)', () => {
  const h = governed()

  it('verifies every certificate against the set of its epoch and derives each epoch\'s state', async () => {
    const a = new Auditor(h.net, new MemorySource(h))
    const certs = await a.certificates()
    assert.deepEqual(certs.findings, [])
    assert.equal(certs.verified.length, 8)
    assert.deepEqual(certs.states.map(s => s.validators.ids.length), [4, 4, 4, 5, 5, 5, 4, 4, 4])
    assert.deepEqual(certs.states.map(s => s.hash), h.states.map(s => s.hash))
    assert.deepEqual(certs.verified[6].value.cut.map(c => c.hub), [f.hubIds[0], f.hubIds[1], f.hubIds[2], spare])
  })

  it('--full recomputes each epoch with the registry and parameters in force then', async () => {
    const a = new Auditor(h.net, new MemorySource(h))
    const certs = await a.certificates()
    for (let e = 0; e < 8; e++) {
      const full = await a.epochFull(certs.verified[e], certs.verified[e - 1])
      assert.deepEqual(full.findings, [], `epoch ${e}`)
      assert.equal(full.recomputedRoot, h.results[e].root)
    }
    const earned = (e: number, d: string): bigint => h.results[e].devices.find(x => x.device === d)?.countedMwh ?? 0n
    assert.equal(earned(2, 'new-1'), 0n)
    assert.ok(earned(3, 'new-1') > 0n)
    assert.equal(h.results[3].totals.emission, 1_000_000n)
    assert.equal(h.results[4].totals.emission, 7000n)
    assert.ok(earned(5, 'h0-d1') > 0n)
    assert.equal(earned(6, 'h0-d1'), 0n)
    // A removed hub's entries up to its last cut (epoch 5) count; from its effective epoch (6) it has no cut.
    assert.ok(earned(5, 'h3-d0') > 0n)
    assert.equal(earned(6, 'h3-d0'), 0n)
  })

  it('an account audit passes over the whole history', async () => {
    const a = new Auditor(h.net, new MemorySource(h))
    const r = await a.account(toHex(f.capex.publicKey), (await a.certificates()).verified)
    assert.deepEqual(r.findings, [])
    assert.equal(r.epochs.length, 8)
  })

  it('names resolutions a peer withholds', async () => {
    const src = new MemorySource(h)
    src.resolutions = async (e) => e === 2 ? [] : (h.resolutions[e] ?? [])
    const certs = await new Auditor(h.net, src).certificates()
    assert.equal(certs.verified.length, 2)
    assert.deepEqual(certs.findings.map(x => `${x.kind}/${x.code}@${x.epoch}`), ['governance/resolution-missing@2'])
  })

  it('--full names a parameter change that more than 2/3 of validators certified without the builders\' voice', async () => {
    const bad = governed({ params: resolution(f, params, idOf(params), five) })
    const a = new Auditor(bad.net, new MemorySource(bad))
    const certs = await a.certificates()
    // Certificates alone cannot tell (a light peer has no weights) …
    assert.deepEqual(certs.findings, [])
    // … the recomputation can.
    const full = await a.epochFull(certs.verified[3], certs.verified[2])
    assert.deepEqual(full.findings.map(x => `${x.kind}/${x.code}`), ['governance/builder-quorum'])
  })
})

describe('Auditor across a continued network', () => {
  // The old network decides epochs 0…3 (a fifth hub from 3, a new device from 3); then only hubs 0 and 1 remain.
  const old = buildHistory(keys, { epochs: 4, reportsPerHub: 20, governance: [[], [resolution(f, hubAdd, idOf(hubAdd), f.hubs.slice(0, 3))], [resolution(f, devAdd, idOf(devAdd))]] })
  const E = 3
  const account = toHex(f.capex.publicKey)

  async function setup (tamper: (d: NetworkDefinition) => void = () => {}): Promise<{ oldA: Auditor, oldCerts: VerifiedCertificate[], net2: Network }> {
    const oldA = new Auditor(f.net, new MemorySource(old))
    const oc = await oldA.certificates()
    const def = continueNetwork({ old: f.net, cert: oc.verified[E], state: oc.states[E + 1], tally: old.results[E].next, remaining: f.hubIds.slice(0, 2), name: 'continued', genesisTime: f.net.def.genesisTime + 600 })
    tamper(def)
    const draft = parseNetwork(def)
    const net2 = parseNetwork(withEndorsements(def, [signEndorsement(f.operators[0], draft), signEndorsement(f.operators[1], draft)]))
    return { oldA, oldCerts: oc.verified, net2 }
  }

  it('checks what the new network carries against the old one, and audits an account across both', async () => {
    const { oldA, oldCerts, net2 } = await setup()
    assert.deepEqual(await oldA.continuation(net2, oldCerts), [])
    const h2 = buildHistory({ net: net2, hubs: f.hubs.slice(0, 2), devices: [f.devices[0], f.devices[1]], more: { devices: new Map([['new-1', f.stranger]]) } }, { epochs: 3, reportsPerHub: 20 })
    const a2 = new Auditor(net2, new MemorySource(h2))
    const c2 = await a2.certificates()
    assert.deepEqual(c2.findings, [])
    for (let e = 0; e < 3; e++) assert.deepEqual((await a2.epochFull(c2.verified[e], c2.verified[e - 1])).findings, [], `epoch ${e}`)
    const before = await oldA.account(account, oldCerts)
    const after = await a2.account(account, c2.verified)
    assert.deepEqual([...before.findings, ...after.findings], [])
    const carried = before.epochs[E].cumulative!
    assert.ok(carried > 0n)
    assert.equal(after.epochs[0].cumulative, carried + after.epochs[0].amount!)
  })

  it('names a continued network that carries another total than the old epoch certified', async () => {
    const { oldA, oldCerts, net2 } = await setup(d => { d.continues!.cumulative = d.continues!.cumulative.map(c => c.account === account ? { ...c, amount: String(BigInt(c.amount) + 1n) } : c) })
    const fs = await oldA.continuation(net2, oldCerts)
    assert.deepEqual(fs.map(x => `${x.kind}/${x.code}`), ['continuation/carried-tally'])
    assert.equal(fs[0].account, account)
  })

  it('names a continued network linked to another value', async () => {
    const { oldA, oldCerts, net2 } = await setup(d => { d.continues!.value = '11'.repeat(32) })
    assert.deepEqual((await oldA.continuation(net2, oldCerts)).map(x => `${x.kind}/${x.code}`), ['continuation/carried-value'])
  })
})
