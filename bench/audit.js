// Audit bench: a full audit of one epoch with 100,000 reports by a light peer over libp2p (TCP on
// loopback), against the raw Ed25519 verifies it cannot avoid in the same run; and the time to
// check one certificate. The history is synthetic but signed with real keys (@ecandle/audit/testing).
import { randomBytes } from 'node:crypto'
import { AuditPeer, Auditor } from '@ecandle/audit'
import { buildHistory, MemorySource, serveHistory } from '@ecandle/audit/testing'
import { createHubNode } from '@ecandle/net'
import { decodeEntry, decodeReport, Domain, verifyCertificate, verifySignature } from '@ecandle/protocol'
import { fixture } from '@ecandle/protocol/testing'
import { log, round } from './lib/util.js'

export async function benchAudit ({ reports = 100_000 } = {}) {
  const f = fixture()
  const perHub = Math.ceil(reports / f.hubs.length)
  log(`audit: signing a history of 2 epochs, the second with ${perHub * f.hubs.length} reports`)
  const history = buildHistory({ net: f.net, hubs: f.hubs, devices: f.devices }, { epochs: 2, reportsPerHub: [8, perHub] })

  // Raw baseline: one Ed25519 verify per report of epoch 1 (the floor of any full audit).
  const sigs = []
  for (const log of history.logs.values()) {
    for (const bytes of log) {
      const e = decodeEntry(bytes)
      if (e.payload.epoch < 1) continue
      for (const r of e.payload.reports) {
        const d = decodeReport(r)
        sigs.push([f.net.devices.get(d.report.device).publicKey, d.payload, d.signature])
      }
    }
  }
  let t = performance.now()
  for (const [k, p, s] of sigs) if (!verifySignature(k, Domain.report, p, s)) throw new Error('baseline: bad signature')
  const rawS = (performance.now() - t) / 1000

  // In memory: verification + tally, no transport.
  const mem = new Auditor(f.net, new MemorySource(history))
  const memCerts = await mem.certificates()
  t = performance.now()
  const m = await mem.epochFull(memCerts.verified[1], memCerts.verified[0])
  const memoryS = (performance.now() - t) / 1000
  if (m.findings.length > 0) throw new Error(`memory audit found ${JSON.stringify(m.findings)}`)

  // Over libp2p: a server node with the hubs' protocols, a light peer that dials it.
  const server = await createHubNode({ seed: randomBytes(32), networkId: f.net.id, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [] })
  await serveHistory(server, history)
  const addr = server.getMultiaddrs()[0].toString()
  const peer = await AuditPeer.connect(f.net, addr)
  try {
    t = performance.now()
    const a = new Auditor(f.net, peer)
    const certs = await a.certificates()
    const full = await a.epochFull(certs.verified[1], certs.verified[0])
    const fullS = (performance.now() - t) / 1000
    if (full.findings.length > 0) throw new Error(`libp2p audit found ${JSON.stringify(full.findings)}`)

    // One certificate: decode, quorum, one signature per signer.
    const cert = history.certs[1]
    const n = 2000
    t = performance.now()
    for (let i = 0; i < n; i++) verifyCertificate(f.net, cert)
    const certMs = (performance.now() - t) / n
    const signers = verifyCertificate(f.net, cert).signers.length
    return {
      reports: full.reports,
      entries: full.entries,
      fullAuditS: round(fullS, 2),
      fullAuditReportsPerSec: round(full.reports / fullS),
      memoryAuditS: round(memoryS, 2),
      rawVerifyS: round(rawS, 2),
      fullVsRawRatio: round(rawS / fullS, 3),
      certificateCheckMs: round(certMs, 3),
      certificateSigners: signers,
      certificateCheckPerSignerMs: round(certMs / signers, 3),
      rawVerifyMs: round(rawS * 1000 / sigs.length, 3)
    }
  } finally {
    await peer.close()
    await server.stop()
  }
}

export function formatAudit (r) {
  const fmt = (x, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
  return [
    ['full audit of one epoch (light peer, libp2p)', `${fmt(r.fullAuditS, 2)} s`, '', `${fmt(r.reports)} reports in ${fmt(r.entries)} entries: fetch, verify every signature and the hash chains, recompute the tally; ${fmt(r.fullAuditReportsPerSec)} reports/s`],
    ['  same audit, data in memory', `${fmt(r.memoryAuditS, 2)} s`, '', 'verification + tally only, no transport'],
    ['  raw Ed25519 verifies of its reports', `${fmt(r.rawVerifyS, 2)} s`, '', `raw / full audit = ${fmt(r.fullVsRawRatio, 2)}`],
    ['check one certificate', `${fmt(r.certificateCheckMs, 3)} ms`, '', `${r.certificateSigners} signers: ${fmt(r.certificateCheckPerSignerMs, 3)} ms each (raw verify ${fmt(r.rawVerifyMs, 3)} ms)`]
  ]
}
