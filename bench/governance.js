// Governance bench (issue 10): the size of every operation, of an approval and of resolutions; how
// fast a validator or light peer checks them against raw Ed25519 verifies in the same run; the cost
// of deciding an epoch that carries 100 operations on a registry of 10,000 devices, beside one that
// carries none; and what 100 operations add to a value (pure code); and, with 7 real hub processes,
// the certificate latency of an epoch carrying 100 operations beside epochs carrying none.
import {
  decideGovernance, decodeCanonical, Domain, encodeValue, epochVoteAtMs, followValue, genesisState, governanceFields, parseNetwork, peerIdFromPublicKey, signerFromSeed,
  signOperation, toHex, verifyOperation, verifyResolution, verifySignature
} from '@ecandle/protocol'
import { deviceAddOp, govFixture, op, resolution } from '@ecandle/protocol/testing'
import { log, round } from './lib/util.js'
import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNetwork } from '@ecandle/daemon'
import { parseHubLog } from './agreement.js'

const seed = (a, b) => { const s = new Uint8Array(32).fill(a); s[0] = b & 0xff; s[1] = b >> 8; return s }

export async function benchGovernance ({ registry = 10_000, ops = 100, builders = 100 } = {}) {
  const f = govFixture({ hubs: 7 })
  const id = f.net.id
  const idOf = (b) => verifyOperation(id, b).id
  const five = f.hubs.slice(0, 5)
  const spare = peerIdFromPublicKey(f.spareHubs[0].publicKey)
  const opsByType = {
    'device-add': deviceAddOp(f, { id: 'candle-new-1', key: f.stranger, hub: 0, exp: 10 }),
    'device-transfer': op(f, { type: 'device-transfer', exp: 10, device: 'h0-d0', role: 'capex', from: f.capex.publicKey, to: f.capex2.publicKey }, { from: f.capex, to: f.capex2 }),
    'device-move': op(f, { type: 'device-move', exp: 10, device: 'h0-d1', from: f.hubIds[0], to: f.hubIds[1], opex: f.opex.publicKey, fromOperator: f.operators[0].publicKey, toOperator: f.operators[1].publicKey }, { opex: f.opex, fromOperator: f.operators[0], toOperator: f.operators[1] }),
    'device-retire': op(f, { type: 'device-retire', exp: 10, device: 'h1-d1', capex: f.capex.publicKey, opex: f.opex.publicKey }, { capex: f.capex, opex: f.opex }),
    'hub-add': op(f, { type: 'hub-add', exp: 10, hub: spare, operator: f.spareOperators[0].publicKey }, { hub: f.spareHubs[0], operator: f.spareOperators[0] }),
    'hub-remove': op(f, { type: 'hub-remove', exp: 10, hub: f.hubIds[6] }, {}),
    params: op(f, { type: 'params', exp: 10, set: { emissionPerEpoch: 2_000_000n, capexBps: 6500 } }, {})
  }
  const sizes = Object.fromEntries(Object.entries(opsByType).map(([k, b]) => [k, b.byteLength]))
  const hubAddRes = resolution(f, opsByType['hub-add'], idOf(opsByType['hub-add']), five)
  const voters = Array.from({ length: builders }, (_, i) => signerFromSeed(seed(0x70, i)))
  const paramsRes = resolution(f, opsByType.params, idOf(opsByType.params), five, voters.map(v => [v, true]))
  const approval = verifyResolution(id, hubAddRes).approvals[0].bytes

  // Checking: a device-add resolution (3 role signatures and the maker's) per second, against raw
  // verifies of the same signature, interleaved in rounds so both see the same machine.
  const addRes = resolution(f, opsByType['device-add'], idOf(opsByType['device-add']))
  const d = verifyOperation(id, opsByType['device-add'])
  const k = f.stranger.publicKey
  const rounds = 10
  const per = 200
  let verifyResS = 0
  let rawS = 0
  for (let round = 0; round < rounds; round++) {
    let t = performance.now()
    for (let i = 0; i < per; i++) verifyResolution(id, addRes)
    verifyResS += (performance.now() - t) / 1000
    t = performance.now()
    for (let i = 0; i < per * 4; i++) verifySignature(k, `${Domain.gov}/${id}`, d.payload, d.signatures.device)
    rawS += (performance.now() - t) / 1000
  }
  const n = rounds * per

  // An epoch of 100 device-adds on a registry of 10,000 devices, beside an epoch of none.
  log(`governance: a registry of ${registry} devices, ${ops} device-adds signed with real keys`)
  const devices = Array.from({ length: registry }, (_, i) => ({
    id: `d${i}`, publicKey: toHex(signerFromSeed(seed(0x80, i)).publicKey), hub: f.hubIds[i % 7], capex: toHex(f.capex.publicKey), opex: toHex(f.opex.publicKey), ratedWhPerDay: 500
  }))
  const big = parseNetwork({ ...JSON.parse(JSON.stringify(f.net.def)), devices })
  const fb = { ...f, net: big }
  const s = genesisState(big)
  const adds = Array.from({ length: ops }, (_, i) => {
    const b = deviceAddOp(fb, { id: `new-${i}`, key: signerFromSeed(seed(0x90, i)), hub: i % 7, exp: 10 })
    return resolution(fb, b, verifyOperation(big.id, b).id)
  })
  const rs = adds.map(b => verifyResolution(big.id, b))
  const { decided: _d, ...fields } = governanceFields(s, rs)
  const value = { epoch: 0, prev: null, cut: s.validators.ids.map(hub => ({ hub, seq: 0, id: null })), root: '00'.repeat(32), ...fields }
  const emptyValue = { ...value, gov: [], next: s.hash }
  const time = (fn, reps) => { const t0 = performance.now(); for (let i = 0; i < reps; i++) fn(); return (performance.now() - t0) / reps }
  const followMs = time(() => followValue(s, value, adds), 3)
  const followEmptyMs = time(() => followValue(s, emptyValue, []), 20)
  const decideOnlyMs = time(() => decideGovernance(s, rs), 3)
  return {
    operationBytes: sizes,
    approvalBytes: approval.byteLength,
    resolutionBytes: { deviceAdd: addRes.byteLength, hubAdd5of7: hubAddRes.byteLength, [`params5of7plus${builders}builders`]: paramsRes.byteLength },
    resolutionVerifiesPerSec: round(n / verifyResS),
    rawVerifiesPerSec: round((n * 4) / rawS),
    deviceAddVsRaw: round((n / verifyResS) / ((n * 4) / rawS), 3),
    registryDevices: registry,
    opsPerEpoch: ops,
    followEpochWithOpsMs: round(followMs, 1),
    followEpochEmptyMs: round(followEmptyMs, 3),
    decideWithOpsMs: round(decideOnlyMs, 1),
    valueBytesWithOps: encodeValue(value).byteLength,
    valueBytesEmpty: encodeValue(emptyValue).byteLength,
    valueGovFieldBytes: encodeValue(value).byteLength - encodeValue(emptyValue).byteLength,
    decodedCheck: decodeCanonical(encodeValue(value), 'value').gov.length
  }
}

export function formatGovernance (g) {
  const fmt = (x, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
  return [
    ['governance: signed operation', Object.entries(g.operationBytes).map(([k, v]) => `${k} ${v} B`).slice(0, 2).join(', '), '', Object.entries(g.operationBytes).slice(2).map(([k, v]) => `${k} ${v}`).join(', ') + ' B'],
    ['governance: signed approval', `${g.approvalBytes} B`, '', `resolutions: device-add ${g.resolutionBytes.deviceAdd} B, hub-add with 5 of 7 approvals ${g.resolutionBytes.hubAdd5of7} B, params with 5 + 100 builder votes ${Object.values(g.resolutionBytes)[2]} B`],
    ['governance: device-add resolution checks', `${fmt(g.resolutionVerifiesPerSec)} /s`, '', `4 signatures each (device, operator, capex, maker): ${fmt(g.deviceAddVsRaw * 4, 2)}× of raw verify speed (raw ${fmt(g.rawVerifiesPerSec)} /s)`],
    [`governance: epoch with ${g.opsPerEpoch} device-adds (registry ${fmt(g.registryDevices)})`, `${fmt(g.followEpochWithOpsMs, 1)} ms`, '', `light-peer followValue: ${g.opsPerEpoch} resolutions verified, rules, next state hash; rules + state alone ${fmt(g.decideWithOpsMs, 1)} ms; an epoch with none ${fmt(g.followEpochEmptyMs, 3)} ms`],
    [`governance: value with ${g.opsPerEpoch} resolutions`, `${fmt(g.valueBytesWithOps)} B`, '≤ 64 KiB', `empty value ${fmt(g.valueBytesEmpty)} B (7 hubs); the ids add ${fmt(g.valueGovFieldBytes)} B`]
  ]
}

// ---------------------------------------------------------------------------------------------
// Certificate latency with governance: 7 real hub processes; one epoch carries 100 device-adds
// (submitted to hub-1, gossiped to all, put in the value by the proposer and checked by every
// validator before it prevotes), beside epochs that carry none. Latency of an epoch = its vote
// time → the last hub's 'epoch decided' log line.
// ---------------------------------------------------------------------------------------------

const BIN = fileURLToPath(new URL('../daemon/dist/src/bin/ecandle.js', import.meta.url))
const sleep = (ms) => new Promise(resolve => setTimeout(resolve, ms))

async function getJson (url, timeoutMs = 5000) {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`)
  return await res.json()
}

async function until (what, probe, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try { const v = await probe(); if (v) return v } catch {}
    if (Date.now() > deadline) throw new Error(`governance bench: timed out waiting for ${what}`)
    await sleep(200)
  }
}

export async function benchGovernanceLatency ({ hubs = 7, ops = 100, epochLengthS = 8, gracePeriodS = 2, baseline = 3, keep = false } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'ecandle-bench-gov-'))
  const created = await createNetwork({ dir, hubs, devicesPerHub: 1, epochLengthS, gracePeriodS, reportIntervalS: 2, entryIntervalMs: 1000, genesisTime: Math.ceil(Date.now() / 1000) + 20 })
  const net = parseNetwork(readFileSync(created.networkPath, 'utf8'))
  const acc = JSON.parse(readFileSync(join(dir, 'accounts.json'), 'utf8'))
  const children = created.hubDirs.map(d => {
    const fd = openSync(join(d, 'hub.log'), 'a')
    const c = spawn(process.execPath, [BIN, 'daemon', '--data-dir', d], { stdio: ['ignore', fd, fd] })
    closeSync(fd)
    c.exited = new Promise(resolve => c.once('exit', resolve))
    return c
  })
  const killAll = () => { for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL') }
  process.once('exit', killAll)
  try {
    const urls = await Promise.all(created.hubDirs.map(d => until('a hub API', async () => {
      const api = JSON.parse(await readFile(join(d, 'api.json'), 'utf8'))
      await getJson(`${api.url}/status`)
      return api.url
    }, 60_000)))
    await until('every hub connected', async () => (await Promise.all(urls.map(u => getJson(`${u}/status`)))).every(s => s.peers >= hubs - 1), 60_000)
    const last = async () => (await getJson(`${urls[0]}/status`)).lastEpoch ?? -1
    // Baseline epochs with no operation, after the first.
    const start = await until('epoch 0 decided', async () => { const e = await last(); return e >= 0 ? e + 1 : false }, 120_000)
    await until(`epoch ${start + baseline} decided`, async () => (await last()) >= start + baseline, (baseline + 3) * epochLengthS * 1000)
    // 100 device-adds, each signed by its device key, its hub's operator and a capex builder.
    log(`governance: ${hubs} hubs decided ${start + baseline}; submitting ${ops} device-adds to hub-1`)
    const exp = start + baseline + 64
    const token = readFileSync(join(created.hubDirs[0], 'api.token'), 'utf8').trim()
    const ids = []
    for (let i = 0; i < ops; i++) {
      const h = i % hubs
      const device = signerFromSeed(seed(0xa0, i))
      const operator = signerFromSeed(Buffer.from(acc.operators[h].seed, 'hex'))
      const capex = signerFromSeed(Buffer.from(acc.backers[i % acc.backers.length].seed, 'hex'))
      const b = signOperation(net.id, { type: 'device-add', exp, device: `bench-${i}`, key: device.publicKey, hub: net.validatorIds[h], capex: capex.publicKey, opex: operator.publicKey, ratedWhPerDay: 150, operator: operator.publicKey, maker: null }, { device, operator, capex })
      ids.push(verifyOperation(net.id, b).id)
      const res = await fetch(`${urls[0]}/gov/submit`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ message: Buffer.from(b).toString('base64') }) })
      if (!res.ok) throw new Error(`submit: HTTP ${res.status} ${await res.text()}`)
    }
    const pooledAll = await until('the operations pooled on every hub', async () => (await Promise.all(urls.map(u => getJson(`${u}/gov`)))).every(g => g.operations.length >= ops), 60_000)
    const decidedIn = await until('the operations decided', async () => {
      const g = await getJson(`${urls[hubs - 1]}/gov`)
      const d = g.operations.filter(o => ids.includes(o.id) && o.status === 'decided')
      if (d.length < ops) return false
      return [...new Set(d.map(o => o.decidedIn))]
    }, 6 * epochLengthS * 1000)
    await until('one more epoch decided', async () => (await last()) >= Math.max(...decidedIn) + 1, 4 * epochLengthS * 1000)
    const stored = await getJson(`${urls[0]}/epochs?from=0&limit=1000`)
    for (const c of children) c.kill('SIGTERM')
    await Promise.all(children.map(c => c.exited))
    const logs = created.hubDirs.map(d => parseHubLog(join(d, 'hub.log')))
    const latency = (e) => {
      const t = logs.map(l => l.decided.get(e)?.time)
      return t.some(x => x === undefined) ? null : Math.max(...t) - epochVoteAtMs(net, e)
    }
    const withOps = decidedIn.map(latency)
    const lastMeasured = Math.max(...decidedIn) + 1
    const empty = []
    for (let e = start; e <= lastMeasured; e++) if (!decidedIn.includes(e)) { const l = latency(e); if (l !== null) empty.push(l) }
    empty.sort((a, b) => a - b)
    const certBytes = (e) => { const s = stored.find(x => x.epoch === e); return s === undefined ? null : Buffer.from(s.certificate, 'base64').length }
    void pooledAll
    return {
      hubs,
      epochLengthS,
      gracePeriodS,
      ops,
      epochsWithOps: decidedIn,
      latencyWithOpsMs: withOps,
      latencyEmptyMedianMs: empty.length === 0 ? null : empty[Math.floor(empty.length / 2)],
      latencyEmptyMs: empty,
      certificateBytesWithOps: decidedIn.map(certBytes),
      certificateBytesEmpty: certBytes(start),
      dir: keep ? dir : undefined
    }
  } finally {
    killAll()
    process.removeListener('exit', killAll)
    if (!keep) await rm(dir, { recursive: true, force: true })
  }
}

export function formatGovernanceLatency (g) {
  return [[
    `governance: certificate latency, ${g.hubs} hubs, epoch with ${g.ops} device-adds`,
    `${g.latencyWithOpsMs.join(' / ')} ms`,
    '',
    `vote time → last hub decided (epoch ${g.epochLengthS} s, grace ${g.gracePeriodS} s); epochs with none: median ${g.latencyEmptyMedianMs} ms (${g.latencyEmptyMs.join(', ')}); certificate ${g.certificateBytesWithOps.join('/')} B with ops, ${g.certificateBytesEmpty} B without`
  ]]
}
