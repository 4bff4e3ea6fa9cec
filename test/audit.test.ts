import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { Finding } from '@ecandle/audit'
import type { EpochSummary } from '@ecandle/client'
import { readHubKey } from '@ecandle/daemon'
import {
  decodeEntry, encode, encodeCertificate, encodeConsensusPayload, signEntry, signerFromSeed, valueIdOf, verifyCertificate, voteDomain, type EpochValue
} from '@ecandle/protocol'
import { decodeProofResponse, decodeTallyRequest, encodeProofResponse } from '@ecandle/wire'
import { decodeLeaf, encodeAccountLeaf } from '@ecandle/tally'
import { TamperProxy, valueJson } from './lib/tamper-proxy.js'
import { printTailsOnFailure, runCli, Testnet, waitFor } from './lib/testnet.js'

/**
 * `ecandle audit` as a backer runs it: a separate process, a light peer that trusts only the
 * network file. Against honest hubs every check passes; against a dishonest peer (a proxy in this
 * process that rewrites what a real hub serves) the audit exits 1 naming the fault.
 */

interface AuditJson {
  ok: boolean
  account?: { account: string, epochs: Array<{ epoch: number, amount: string | null, cumulative: string | null }> }
  epoch?: { epoch: number, root: string, recomputedRoot: string | null, entries: number, reports: number, counted: number }
  findings: Finding[]
}

async function audit (args: string[]): Promise<{ code: number | null, json: AuditJson, stderr: string }> {
  const r = await runCli(['audit', ...args, '--json'], { timeoutMs: 90_000 })
  let json: AuditJson
  try {
    json = JSON.parse(r.stdout) as AuditJson
  } catch {
    throw new Error(`audit printed no JSON (exit ${String(r.code)}):\n${r.stdout}\n${r.stderr}`)
  }
  return { code: r.code, json, stderr: r.stderr }
}

function finding (j: AuditJson, kind: string, code: string): Finding {
  const f = j.findings.find(x => x.kind === kind && x.code === code)
  assert.ok(f !== undefined, `expected a ${kind}/${code} finding, got: ${JSON.stringify(j.findings)}`)
  return f
}

describe('ecandle audit: a light peer against 4 hub processes', function () {
  let tn: Testnet
  let hubAddr: string
  let proxy: TamperProxy | undefined
  /** An account that has earned by epoch E (a device's capex account). */
  let account: string | undefined
  /** The epoch audited: ≥ 1, with new entries of every hub, and the next one decided too. */
  let E: number

  before(async function () {
    this.timeout(120_000)
    tn = await Testnet.create({ hubs: 4, devicesPerHub: 2, epochLengthS: 3, gracePeriodS: 1, reportIntervalS: 1, entryIntervalMs: 500 })
    await tn.start()
    // Hubs start a few seconds after genesis, so the first epochs may be empty: take the first
    // epoch whose cut advanced every log, once the epoch after it is decided as well.
    E = await waitFor('an epoch ≥ 1 with entries of every hub, and the next decided', async () => {
      const epochs = await tn.hubs[0].get<EpochSummary[]>('/epochs?from=0&limit=1000')
      const i = epochs.findIndex((e, k) => k > 0 && e.epoch >= 1 && e.cut.every((c, h) => c.seq > epochs[k - 1].cut[h].seq))
      return i > 0 && i + 1 < epochs.length ? epochs[i].epoch : undefined
    }, { timeoutMs: 90_000 })
    for (const d of tn.net.def.devices) {
      if (BigInt((await tn.hubs[0].get<{ cumulative: string }>(`/rewards/${d.capex}?epoch=${E}`)).cumulative) > 0n) { account = d.capex; break }
    }
    assert.ok(account !== undefined, `some capex account earned by epoch ${E}`)
    hubAddr = (await tn.hubs[0].status()).addrs.find(a => a.includes('/tcp/'))!
  })
  afterEach(async function () {
    printTailsOnFailure(this, tn)
    await proxy?.stop()
    proxy = undefined
  })
  after(async () => { await tn?.destroy() })

  const net = (): string[] => ['--network', tn.networkPath]

  it('passes on honest data: certificates, an account with Merkle proofs, a full recomputation of an epoch', async () => {
    const certs = await runCli(['audit', ...net(), '--peer', hubAddr])
    assert.equal(certs.code, 0, certs.stdout + certs.stderr)
    assert.match(certs.stdout, /certificates: epochs 0\.\.\d+ verified/)
    assert.match(certs.stdout, /AUDIT PASSED/)

    const acc = await audit([...net(), '--peer', hubAddr, '--account', account!, '--epoch', String(E)])
    assert.equal(acc.code, 0, JSON.stringify(acc.json.findings))
    assert.equal(acc.json.account?.epochs.length, E + 1)
    // The audited figures are the hub's own figures, proven.
    const api = await tn.hubs[0].get<{ cumulative: string }>(`/rewards/${account!}?epoch=${E}`)
    assert.equal(acc.json.account?.epochs[E].cumulative ?? '0', api.cumulative)

    const full = await audit([...net(), '--peer', hubAddr, '--epoch', String(E), '--full'])
    assert.equal(full.code, 0, JSON.stringify(full.json.findings))
    assert.ok((full.json.epoch?.reports ?? 0) > 0, `epoch ${E} holds reports`)
    assert.equal(full.json.epoch?.recomputedRoot, full.json.epoch?.root)
    assert.match(full.stderr, /audit: entries \d+\/\d+/, 'progress is shown')
    console.log(`      epoch ${E}: ${full.json.epoch?.entries} entries, ${full.json.epoch?.reports} reports re-verified, ${full.json.epoch?.counted} counted; root matches`)
  })

  it('names a certificate with too few signers', async () => {
    proxy = await TamperProxy.start(tn.net, hubAddr)
    proxy.tamper = (p, _req, f) => {
      if (p !== 'certificates') return f
      const c = verifyCertificate(tn.net, f)
      if (c.value.epoch !== E) return f
      return encode({ value: valueJson(c.value), round: c.round, sigs: c.signatures.slice(0, 2) })
    }
    const r = await audit([...net(), '--peer', proxy.addr])
    assert.equal(r.code, 1)
    const f = finding(r.json, 'certificate', 'too-few-signers')
    assert.equal(f.epoch, E)
    assert.match(f.message, new RegExp(`epoch ${E}: 2 signers, need 3 of 4`))
  })

  it('names a duplicated signer', async () => {
    proxy = await TamperProxy.start(tn.net, hubAddr)
    proxy.tamper = (p, _req, f) => {
      if (p !== 'certificates') return f
      const c = verifyCertificate(tn.net, f)
      if (c.value.epoch !== E) return f
      const [a, b] = c.signatures
      return encode({ value: valueJson(c.value), round: c.round, sigs: [a, a, b] })
    }
    const r = await audit([...net(), '--peer', proxy.addr])
    assert.equal(r.code, 1)
    const f = finding(r.json, 'certificate', 'duplicate-signer')
    assert.match(f.message, new RegExp(`epoch ${E}: validator #\\d+ signed twice`))
  })

  it('names a wrong root even when a quorum of keys signed it (colluding hubs), on full recomputation', async () => {
    const seeds = await Promise.all(tn.hubs.slice(0, 3).map(async h => await readHubKey(join(h.dir, 'hub.key'))))
    proxy = await TamperProxy.start(tn.net, hubAddr)
    proxy.tamper = (p, _req, f) => {
      if (p !== 'certificates') return f
      const c = verifyCertificate(tn.net, f)
      if (c.value.epoch !== E) return f
      const value: EpochValue = { ...c.value, root: 'ab'.repeat(32) }
      const valueId = valueIdOf(value)
      const signatures = seeds.map((seed, i): [number, Uint8Array] => {
        const from = tn.net.validatorIds[i]
        return [i, signerFromSeed(seed).sign(voteDomain(tn.net.id), encodeConsensusPayload({ type: 'precommit', epoch: E, round: c.round, from, valueId }))]
      })
      return encodeCertificate(tn.net, { value, round: c.round, signatures })
    }
    const r = await audit([...net(), '--peer', proxy.addr, '--epoch', String(E), '--full'])
    assert.equal(r.code, 1)
    const f = finding(r.json, 'tally', 'root-mismatch')
    assert.equal(f.epoch, E)
    assert.match(f.message, new RegExp(`epoch ${E}: recomputed root [0-9a-f]{64} ≠ certified root ${'ab'.repeat(32)}`))
    // The next epoch names the true decision as its prev: the forged certificate does not link either.
    finding(r.json, 'chain', 'prev-mismatch')
  })

  it('names a tampered reward proof', async () => {
    proxy = await TamperProxy.start(tn.net, hubAddr)
    proxy.tamper = (p, req, f) => {
      if (p !== 'tally' || decodeTallyRequest(req).epoch !== E) return f
      const proof = decodeProofResponse(f)
      if (proof.leaf === null) return f
      const leaf = decodeLeaf(proof.leaf)
      if (leaf.k !== 'a') return f
      // One more token than certified, and the cumulative to match.
      return encodeProofResponse({ ...proof, leaf: encodeAccountLeaf({ ...leaf, amount: leaf.amount + 1n, cumulative: leaf.cumulative + 1n }) })
    }
    const r = await audit([...net(), '--peer', proxy.addr, '--account', account!, '--epoch', String(E)])
    assert.equal(r.code, 1)
    assert.equal(proxy.changed.tally, 1)
    const f = finding(r.json, 'proof', 'proof-invalid')
    assert.equal(f.epoch, E)
    assert.equal(f.account, account)
    assert.match(f.message, /does not hash to the certified root/)
  })

  it("names an entry of another hub's log that the peer tampered with", async () => {
    const victim = tn.net.validatorIds.find(h => h !== tn.hubs[0].peerId)!
    proxy = await TamperProxy.start(tn.net, hubAddr)
    let target: number | undefined
    proxy.tamper = (p, _req, f) => {
      if (p !== 'entries') return f
      const e = decodeEntry(f)
      if (e.payload.hub !== victim || (target !== undefined && e.payload.seq !== target)) return f
      target = e.payload.seq
      // Drop the last report and keep the hub's signature: the bytes no longer match it.
      const body = encode({ ...e.payload, reports: e.payload.reports.length > 1 ? e.payload.reports.slice(0, -1) : e.payload.reports.map(swapLastByte) })
      return encode({ p: body, s: e.signature })
    }
    const r = await audit([...net(), '--peer', proxy.addr, '--epoch', String(E), '--full'])
    assert.equal(r.code, 1)
    const f = finding(r.json, 'entry', 'entry-signature')
    assert.equal(f.hub, victim)
    assert.equal(f.seq, target)
    assert.match(f.message, new RegExp(`hub ${victim} entry #${String(target)}`))
  })

  it('names an entry its own hub rewrote and re-signed (hash chain and cut no longer match)', async () => {
    const own = tn.hubs[0]
    const seed = await readHubKey(join(own.dir, 'hub.key'))
    proxy = await TamperProxy.start(tn.net, hubAddr)
    let target: number | undefined
    proxy.tamper = (p, _req, f) => {
      if (p !== 'entries') return f
      const e = decodeEntry(f)
      if (e.payload.hub !== own.peerId || (target !== undefined && e.payload.seq !== target)) return f
      target = e.payload.seq
      // Drop a report if it has two (one must stay); else move its time by 1 ms. Every signature stays valid.
      const rewritten = e.payload.reports.length > 1 ? { ...e.payload, reports: e.payload.reports.slice(0, -1) } : { ...e.payload, time: e.payload.time + 1 }
      return signEntry(tn.net, signerFromSeed(seed), rewritten)
    }
    const r = await audit([...net(), '--peer', proxy.addr, '--epoch', String(E), '--full'])
    assert.equal(r.code, 1)
    assert.ok(target !== undefined, 'an entry of its own log was served')
    const f = r.json.findings.find(x => x.hub === own.peerId && (x.code === 'chain' || x.code === 'cut-id'))
    assert.ok(f !== undefined, JSON.stringify(r.json.findings))
    assert.ok(f.seq === target || f.seq === target + 1, `names entry #${String(target)} or the one after: ${f.message}`)
  })

  it('refuses bad arguments and an unreachable peer with one line and exit 2', async () => {
    const bad = await runCli(['audit', ...net(), '--peer', hubAddr, '--account', 'xyz'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--account must be 64 lowercase hex/)
    const full = await runCli(['audit', ...net(), '--peer', hubAddr, '--full'])
    assert.equal(full.code, 2)
    assert.match(full.stderr, /--full needs --epoch/)
    const noId = await runCli(['audit', ...net(), '--peer', '/ip4/127.0.0.1/tcp/1'])
    assert.equal(noId.code, 2)
    assert.match(noId.stderr, /must end in \/p2p\//)
    const future = await runCli(['audit', ...net(), '--peer', hubAddr, '--epoch', '100000', '--full'])
    assert.equal(future.code, 2)
    assert.match(future.stderr, /epoch 100000 is not decided/)
  })
})

function swapLastByte (b: Uint8Array): Uint8Array {
  const c = b.slice()
  c[c.length - 1] ^= 1
  return c
}
