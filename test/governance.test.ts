import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort } from '@ecandle/emulator'
import { createHubNode, multiaddr } from '@ecandle/net'
import {
  encodeOperation, generateSeed, peerIdFromPublicKey, signApproval, signerFromSeed, signOperation, toHex, topics, verifyCertificate, verifyOperation, type Signer
} from '@ecandle/protocol'
import type { DeviceLinkStatus, EpochSummary, Explanation, GovList, PeerInfo, RegistryJson } from '@ecandle/client'
import { BIN, printTailsOnFailure, runCli, TestHub, Testnet, waitFor } from './lib/testnet.js'
import { EMULATE_BIN } from './lib/links.js'

/**
 * Governance across real hub processes (docs/governance.md): 4 validators with 4 s epochs run
 * through, in order, a maker-signed device added at runtime, a 5th hub added, a hub removed and an
 * emission change, with forged operations and approvals refused on the way and the light-peer audit
 * over the whole history at the end. Each `it` builds on the previous one.
 */

const EPOCH_S = 4
const GRACE_S = 1
const NEW_DEVICE = 'gov-d001'

const exec = promisify(execFile)

interface Accounts { operators: Array<{ seed: string, account: string }>, backers: Array<{ seed: string, account: string }> }

async function keyFile (path: string, seed: string): Promise<string> {
  await writeFile(path, JSON.stringify({ seed }) + '\n', { mode: 0o600 })
  return path
}

async function gov (hub: TestHub): Promise<GovList> { return await hub.get<GovList>('/gov') }

/** Waits until every one of `hubs` is connected to `peer` and treats it (GET /peers `validator`: its defences) as a validator or not. */
async function treatedAsValidator (hubs: TestHub[], peer: string, validator: boolean): Promise<void> {
  await waitFor(`${hubs.map(h => h.name).join(', ')} to treat ${peer.slice(-8)} as ${validator ? 'a validator' : 'a stranger'}`, async () => {
    const rows = await Promise.all(hubs.map(async h => (await h.get<PeerInfo[]>('/peers')).find(r => r.peerId === peer)))
    return rows.every(r => r?.validator === validator)
  }, { timeoutMs: 10_000 })
}

/** Waits until `hub` lists operation `id` as decided; returns the epoch that decided it. */
async function decidedIn (hub: TestHub, id: string, timeoutMs = 40_000): Promise<number> {
  let last: GovList | undefined
  return await waitFor(`operation ${id.slice(0, 12)} decided on ${hub.name}`, async () => {
    last = await gov(hub)
    const op = last.operations.find(o => o.id === id)
    return op?.status === 'decided' ? op.decidedIn ?? undefined : undefined
  }, { timeoutMs, describe: () => JSON.stringify(last?.operations.map(o => [o.type, o.status, o.approvedBy.length])) })
}

async function waitDecided (hubs: TestHub[], epoch: number, timeoutMs = 40_000): Promise<void> {
  await waitFor(`${hubs.map(h => h.name).join(', ')} to decide epoch ${epoch}`, async () => {
    const s = await Promise.all(hubs.map(async h => (await h.status()).lastEpoch ?? -1))
    return s.every(e => e >= epoch)
  }, { timeoutMs, intervalMs: 250 })
}

async function post (hub: TestHub, path: string, body: unknown): Promise<{ status: number, json: any }> {
  const token = (await readFile(join(hub.dir, 'api.token'), 'utf8')).trim()
  const res = await fetch(`${hub.url as string}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(5000) })
  return { status: res.status, json: await res.json() }
}

/** `ecandle …` that must succeed; returns stdout. */
async function cli (args: string[]): Promise<string> {
  const r = await runCli(args)
  assert.equal(r.code, 0, `ecandle ${args.join(' ')}: ${r.stderr}${r.stdout}`)
  return r.stdout
}

const opIdOf = (stdout: string): string => {
  const m = /([0-9a-f]{64})/.exec(stdout)
  assert.ok(m !== null, `an operation id in: ${stdout}`)
  return m[1]
}

describe('governance: 4 hub processes change the network by vote, 4 s epochs', function () {
  let tn: Testnet
  let acc: Accounts
  const makerSeed = generateSeed()
  const maker: Signer = signerFromSeed(makerSeed)
  let hub5: TestHub
  let hub5Operator: string
  /** Epoch whose value added hub-5. */
  let addedIn = -1
  const keys: Record<string, string> = {}

  before(async function () {
    this.timeout(90_000)
    tn = await Testnet.create({ hubs: 4, devicesPerHub: 1, epochLengthS: EPOCH_S, gracePeriodS: GRACE_S, reportIntervalS: 1, entryIntervalMs: 500, makers: [toHex(maker.publicKey)] })
    acc = JSON.parse(await readFile(join(tn.dir, 'accounts.json'), 'utf8')) as Accounts
    for (const [i, o] of acc.operators.entries()) keys[`op${i + 1}`] = await keyFile(join(tn.dir, `operator-${i + 1}.key`), o.seed)
    for (const [i, b] of acc.backers.entries()) keys[`backer${i + 1}`] = await keyFile(join(tn.dir, `backer-${i + 1}.key`), b.seed)
    keys.maker = await keyFile(join(tn.dir, 'maker.key'), toHex(makerSeed))
    // A new eCandle: its key made by the emulator, run by hub-1's emulator from the start (not registered yet).
    await exec(process.execPath, [EMULATE_BIN, 'new-device', '--keys', tn.hubs[0].deviceKeysPath, '--id', NEW_DEVICE, '--rated', '150'])
    // A 5th hub: initialised, following (not a validator), with its operator's key.
    const port = await freePort()
    const dir5 = join(tn.dir, 'hub-5')
    await exec(process.execPath, [BIN, 'init', '--data-dir', dir5, '--network', tn.networkPath, '--listen', `/ip4/127.0.0.1/tcp/${port}`])
    const seed5 = JSON.parse(await readFile(join(dir5, 'hub.key'), 'utf8')).seed as string
    hub5 = new TestHub(4, dir5, peerIdFromPublicKey(signerFromSeed(Buffer.from(seed5, 'hex')).publicKey), port)
    const op5 = toHex(generateSeed())
    keys.op5 = await keyFile(join(tn.dir, 'operator-5.key'), op5)
    hub5Operator = toHex(signerFromSeed(Buffer.from(op5, 'hex')).publicKey)
    await tn.start()
    hub5.spawn()
    await hub5.waitApi()
    tn.hubs.push(hub5)
    await waitFor('every hub connected to the 4 others', async () => (await tn.statuses()).every(s => s.peers >= 4), { timeoutMs: 20_000 })
  })
  afterEach(function () { printTailsOnFailure(this, tn) })
  after(async function () {
    this.timeout(30_000)
    if (process.env.KEEP_TESTNET === '1') { await tn?.stopAll(); process.stderr.write(`kept ${tn.dir}\n`) } else await tn?.destroy()
  })

  it('refuses forged operations and approvals (REJECT, never pooled) and a device-add without a maker', async function () {
    this.timeout(30_000)
    const h1 = tn.hubs[0]
    const net = tn.net
    const op1 = signerFromSeed(Buffer.from(acc.operators[0].seed, 'hex'))
    const backer = signerFromSeed(Buffer.from(acc.backers[0].seed, 'hex'))
    const stranger = signerFromSeed(generateSeed())
    const dev = signerFromSeed(generateSeed())
    const add = { type: 'device-add' as const, exp: 50, device: 'forged-1', key: dev.publicKey, hub: h1.peerId, capex: backer.publicKey, opex: op1.publicKey, ratedWhPerDay: 100, operator: op1.publicKey, maker: null }
    // The operator's signature made by a stranger: a forgery of the operator.
    const forged = signOperation(net.id, add, { device: dev, operator: stranger, capex: backer })
    const submit = async (b: Uint8Array): Promise<{ status: number, json: any }> => await post(h1, '/gov/submit', { message: Buffer.from(b).toString('base64') })
    let r = await submit(forged)
    assert.equal(r.status, 400)
    assert.equal(r.json.error, 'op-signature', JSON.stringify(r.json))
    // Missing the device's signature (no proof of possession).
    const unsigned = encodeOperation(verifyOperation(net.id, signOperation(net.id, add, { device: dev, operator: op1, capex: backer })).payload, {})
    r = await submit(unsigned)
    assert.equal(r.json.error, 'op-signers')
    // Well signed, but this network names makers: IGNOREd (it cannot be decided), not pooled.
    r = await submit(signOperation(net.id, add, { device: dev, operator: op1, capex: backer }))
    assert.equal(r.json.error, 'maker-missing', JSON.stringify(r.json))
    // An approval whose signature is not its signer's.
    const hubRemove = signOperation(net.id, { type: 'hub-remove', exp: 50, hub: tn.peerIds[3] }, {})
    const approval = signApproval(net.id, stranger, { op: verifyOperation(net.id, hubRemove).id, as: 'validator', yes: true })
    const bad = new Uint8Array(approval)
    bad[bad.length - 1] ^= 1
    r = await submit(bad)
    assert.equal(r.json.error, 'approval-signature')
    // An approval of a non-validator is IGNOREd.
    r = await submit(approval)
    assert.equal(r.json.error, 'approval-not-validator')
    // Garbage.
    r = await submit(new Uint8Array([1, 2, 3, 4, 5]))
    assert.equal(r.status, 400)
    // The same forgeries on the gossip topic, from a peer of our own: every hub REJECTs them.
    const node = await createHubNode({ seed: generateSeed(), networkId: net.id, listen: [], bootstrap: net.def.bootstrap, blocked: new Set(), observer: true })
    try {
      const topic = topics.governance(net.id)
      node.services.pubsub.subscribe(topic)
      await Promise.all(net.def.bootstrap.map(async a => { await node.dial(multiaddr(a), { signal: AbortSignal.timeout(3000) }).catch(() => {}) }))
      const hubs = tn.hubs.slice(0, 4)
      await waitFor('the forger in every hub\'s governance mesh', async () => {
        const subs = node.services.pubsub.getSubscribers(topic).map(p => p.toString())
        return hubs.every(h => subs.includes(h.peerId))
      }, { timeoutMs: 15_000 })
      for (const b of [forged, bad]) await node.services.pubsub.publish(topic, b)
      for (const h of hubs) {
        await waitFor(`${h.name} to REJECT the forged operation and approval`, async () => {
          const g = (await h.status()).gossip
          return (g[`${topic} reject op-signature`] ?? 0) >= 1 && (g[`${topic} reject approval-signature`] ?? 0) >= 1
        }, { timeoutMs: 15_000 })
      }
    } finally {
      await node.stop()
    }
    assert.equal((await gov(h1)).operations.length, 0, 'nothing forged is pooled')
  })

  it('a maker-signed device added at runtime counts from its effective epoch; its reports before are refused as unregistered', async function () {
    this.timeout(90_000)
    const h1 = tn.hubs[0]
    // Before: hub-1's link refuses the new device's reports, with the reason.
    await waitFor(`${h1.name} refusing ${NEW_DEVICE} as unregistered`, async () => {
      const d = (await h1.get<DeviceLinkStatus[]>('/devices')).find(x => x.device === NEW_DEVICE)
      return d?.lastRefusal === 'unregistered-device'
    }, { timeoutMs: 20_000 })
    const out = await cli(['gov', 'propose', 'device-add', '--network', tn.networkPath, '--data-dir', h1.dir, '--id', NEW_DEVICE, '--device-keys', h1.deviceKeysPath,
      '--hub', h1.peerId, '--operator-key', keys.op1, '--capex-key', keys.backer1, '--maker-key', keys.maker])
    const id = opIdOf(out)
    const e = await decidedIn(h1, id)
    // Every hub holds it in the registry of epoch e+1, registered from e+1.
    for (const h of tn.hubs) {
      await waitFor(`${h.name} to know epoch ${e + 1}'s registry`, async () => (await h.status()).lastEpoch! >= e, { timeoutMs: 20_000 })
      const reg = await h.get<RegistryJson>(`/registry?epoch=${e + 1}`)
      const d = reg.devices.find(x => x.id === NEW_DEVICE)
      assert.ok(d !== undefined, `${h.name}: ${NEW_DEVICE} in the registry of epoch ${e + 1}`)
      assert.equal(d.since, e + 1)
      assert.equal((await h.get<RegistryJson>(`/registry?epoch=${e}`)).devices.some(x => x.id === NEW_DEVICE), false, `${h.name}: not in epoch ${e}'s registry`)
    }
    const text = await cli(['registry', '--data-dir', h1.dir, '--epoch', String(e + 1)])
    assert.match(text, new RegExp(`${NEW_DEVICE} .* since ${e + 1}`))
    // Counted from an epoch after the decision; nothing of it in any epoch up to the decision.
    let counted = -1
    await waitFor(`${NEW_DEVICE} counted in an epoch after ${e}`, async () => {
      const last = (await h1.status()).lastEpoch ?? -1
      for (let x = e + 1; x <= last; x++) {
        const ex = await h1.get<Explanation>(`/tally/${x}?explain=${NEW_DEVICE}`)
        if (ex.row !== null && BigInt(ex.row.countedMwh) > 0n) { counted = x; return true }
      }
      return false
    }, { timeoutMs: 40_000 })
    for (let x = 0; x <= e; x++) {
      const ex = await h1.get<Explanation>(`/tally/${x}?explain=${NEW_DEVICE}`)
      assert.equal(ex.row, null, `epoch ${x}: ${NEW_DEVICE} earns nothing before its registration`)
    }
    assert.ok(counted > e)
  })

  it('a 5th hub added at runtime votes from E+2: later certificates are signed by the 5-hub set', async function () {
    this.timeout(120_000)
    const [h1, h2, h3] = tn.hubs
    assert.equal((await hub5.status()).validator, false, 'hub-5 starts as a follower')
    const out = await cli(['gov', 'propose', 'hub-add', '--network', tn.networkPath, '--data-dir', h1.dir, '--hub-key', join(hub5.dir, 'hub.key'), '--operator-key', keys.op5])
    const id = opIdOf(out)
    // More than 2/3 of the 4 validators approve (3); gov list shows who has not yet.
    await cli(['gov', 'approve', id, '--data-dir', h1.dir])
    await waitFor('the approval to reach hub-2', async () => (await gov(h2)).operations.find(o => o.id === id)?.approvedBy.length === 1)
    const listed = (await gov(h2)).operations.find(o => o.id === id)!
    assert.equal(listed.status, 'pending')
    assert.deepEqual(listed.approvedBy, [h1.peerId])
    assert.equal(listed.notApprovedBy.length, 3)
    await cli(['gov', 'approve', id, '--data-dir', h2.dir])
    await cli(['gov', 'approve', id, '--data-dir', h3.dir])
    addedIn = await decidedIn(h1, id)
    const from = addedIn + 2
    await waitDecided([h2], addedIn)
    const reg = await h2.get<RegistryJson>(`/registry?epoch=${addedIn + 1}`)
    assert.equal(reg.validators.length, 4, `epoch ${addedIn + 1} still has 4 validators`)
    assert.deepEqual(reg.nextValidators.at(-1), { peerId: hub5.peerId, operator: hub5Operator }, `epoch ${from} has hub-5 with its operator`)
    // In V(E+1) now: the others' defences let it in, never prune it and keep it connected.
    await treatedAsValidator(tn.hubs.filter(h => h !== hub5), hub5.peerId, true)
    // hub-5 follows the chain: it knows it is a validator once the decision is in.
    await waitDecided(tn.hubs, from)
    assert.equal((await hub5.status()).validator, true)
    // Certificates before `from` are of the 4, from `from` on of the 5 (cut of 5 hubs, quorum 4 of 5).
    const before = await h2.get<EpochSummary>(`/epochs/${from - 1}`)
    assert.equal(before.cut.length, 4)
    const after = await h2.get<EpochSummary>(`/epochs/${from}`)
    assert.deepEqual(after.cut.map(c => c.hub), [...tn.peerIds, hub5.peerId])
    assert.equal(after.signers.length, 4)
    // Stop hub-1: the remaining 4 of 5 must include hub-5 to decide; they do.
    const stopAt = (await h2.status()).lastEpoch!
    await h1.stop()
    await waitDecided([h2, h3, hub5], stopAt + 2, 40_000)
    const e = await h2.get<EpochSummary>(`/epochs/${stopAt + 2}`)
    assert.ok(e.signers.includes(hub5.peerId), `epoch ${stopAt + 2} signed by hub-5: ${e.signers.join(', ')}`)
    // hub-5 keeps a log of its own now (its entries are in the cut).
    assert.ok(e.cut.find(c => c.hub === hub5.peerId)!.seq >= 0)
    await h1.start()
    await waitDecided(tn.hubs.filter(h => h.alive), stopAt + 3, 40_000)
  })

  it('a removed hub stops counting in quorum from its effective epoch', async function () {
    this.timeout(120_000)
    const [h1, h2, h3, h4] = tn.hubs
    const out = await cli(['gov', 'propose', 'hub-remove', '--network', tn.networkPath, '--data-dir', h2.dir, '--hub', h4.peerId])
    const id = opIdOf(out)
    // V(E) has 5 validators now: 4 approvals.
    for (const h of [h1, h2, h3, hub5]) await cli(['gov', 'approve', id, '--data-dir', h.dir])
    const e = await decidedIn(h2, id)
    const last = e + 1
    await waitDecided([h1, h2, h3, hub5], e + 2)
    const lastWith = await h2.get<EpochSummary>(`/epochs/${last}`)
    assert.ok(lastWith.cut.some(c => c.hub === h4.peerId), `epoch ${last} (its last) still cuts hub-4's log`)
    const without = await h2.get<EpochSummary>(`/epochs/${e + 2}`)
    assert.equal(without.cut.some(c => c.hub === h4.peerId), false, `epoch ${e + 2} no longer names hub-4`)
    assert.equal(without.signers.length, 3, 'quorum of the 4 that remain: 3')
    assert.equal(without.signers.includes(h4.peerId), false)
    // Past its last epoch: a stranger to the others' defences.
    await treatedAsValidator([h1, h2, h3, hub5], h4.peerId, false)
    // hub-4 gone for good: the 4 that remain decide on; 3 of them suffice.
    await h4.stop()
    const at = (await h2.status()).lastEpoch!
    await h3.stop()
    await waitDecided([h1, h2, hub5], at + 2, 40_000)
    const cert = await h2.get<EpochSummary>(`/epochs/${at + 2}`)
    assert.equal(cert.signers.length, 3)
    assert.throws(() => verifyCertificate(tn.net, Buffer.from(cert.certificate, 'base64')), 'a certificate of the changed set does not verify against the genesis set')
    await h3.start()
  })

  it('an emission change approved by validators and builders applies from E+1', async function () {
    this.timeout(120_000)
    const [h1, h2, h3] = tn.hubs
    const out = await cli(['gov', 'propose', 'params', '--network', tn.networkPath, '--data-dir', h1.dir, '--emission', '2000000000'])
    const id = opIdOf(out)
    for (const h of [h1, h2, h3]) await cli(['gov', 'approve', id, '--data-dir', h.dir])
    // The builders' voice: every capex and opex account that has earned votes yes.
    for (const k of Object.keys(keys).filter(k => /^(op[1-4]|backer\d)$/.test(k))) {
      await cli(['gov', 'approve', id, '--data-dir', h1.dir, '--builder-key', keys[k], '--network', tn.networkPath])
    }
    const e = await decidedIn(h1, id, 60_000)
    await waitDecided([h1, h2], e + 1)
    const at = await h2.get<EpochSummary>(`/epochs/${e}`)
    const next = await h2.get<EpochSummary>(`/epochs/${e + 1}`)
    assert.equal(at.totals.emission, '1000000000', `epoch ${e} still at the old emission`)
    assert.equal(next.totals.emission, '2000000000', `epoch ${e + 1} at the new emission`)
    const reg = await h2.get<RegistryJson>(`/registry?epoch=${e + 1}`)
    assert.equal(reg.params.emissionPerEpoch, '2000000000')
    const list = JSON.parse(await cli(['gov', 'list', '--data-dir', h2.dir, '--json'])) as GovList
    assert.deepEqual(list.operations.filter(o => o.status === 'decided').map(o => o.type).sort(), ['device-add', 'hub-add', 'hub-remove', 'params'])
  })

  it('`ecandle audit --account` and `--full` pass over the whole history across these changes', async function () {
    this.timeout(120_000)
    const h2 = tn.hubs[1]
    const peer = (await h2.status()).addrs.find(a => a.includes('127.0.0.1'))!
    const last = (await h2.status()).lastEpoch!
    const acct = await runCli(['audit', '--network', tn.networkPath, '--peer', peer, '--account', acc.backers[0].account, '--json'], { timeoutMs: 90_000 })
    assert.equal(acct.code, 0, acct.stdout + acct.stderr)
    const full = await runCli(['audit', '--network', tn.networkPath, '--peer', peer, '--full', '--epoch', String(addedIn + 2), '--json'], { timeoutMs: 90_000 })
    assert.equal(full.code, 0, full.stdout + full.stderr)
    assert.ok(last > addedIn + 2)
  })
})
