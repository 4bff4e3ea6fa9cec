// Pages bench (issue 11): the browser's audit (a libp2p light peer's checks, bundled as the audit
// page bundles them) against the same code in Node, on the same signed history: 100 certificates
// from genesis and one account's Merkle proofs in each; raw Ed25519 in both; and the gzipped size
// of what a hub serves. The browser is Debian's Chromium driven by playwright-core (nothing downloaded).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { Auditor } from '@ecandle/audit'
import { buildHistory, MemorySource } from '@ecandle/audit/testing'
import { ed25519Signer, ed25519Verify, randomBytes, toHex } from '@ecandle/crypto'
import { parseNetwork, peerIdFromPublicKey, signerFromSeed } from '@ecandle/protocol'
import { chromium } from 'playwright-core'
import { log, round } from './lib/util.js'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const CHROMIUM = '/usr/bin/chromium'
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** A 4-validator network with one device per hub, each device funded by its own capex account. */
function network () {
  const seed = (n) => new Uint8Array(32).fill(n)
  const hubs = [1, 2, 3, 4].map(n => signerFromSeed(seed(n)))
  const devices = hubs.map((_, i) => [signerFromSeed(seed(40 + i))])
  const acct = (n) => toHex(signerFromSeed(seed(n)).publicKey)
  const ids = hubs.map(h => peerIdFromPublicKey(h.publicKey))
  const net = parseNetwork({
    name: 'bench-pages', genesisTime: 1_735_689_600, epochLengthS: 60, gracePeriodS: 5, emissionPerEpoch: '1000000', capexBps: 6000, deviceCapMwhPerEpoch: '1000000',
    validators: ids.map((peerId, i) => ({ peerId, operator: acct(80 + i) })),
    devices: ids.map((hub, i) => ({ id: `d${i}`, publicKey: toHex(devices[i][0].publicKey), hub, capex: acct(90 + i), opex: acct(100 + i), ratedWhPerDay: 1000 })),
    bootstrap: []
  })
  return { net, hubs, devices }
}

export async function benchPages ({ epochs = 100, runs = 5 } = {}) {
  const out = {}
  const pages = join(ROOT, 'daemon', 'pages')
  if (existsSync(join(pages, 'audit.html'))) {
    out.auditPageGzipKiB = round(gzipSync(readFileSync(join(pages, 'audit.html')), { level: 9 }).length / 1024, 1)
    const files = [join(pages, 'index.html'), ...readdirSync(join(pages, 'assets')).map(f => join(pages, 'assets', f))]
    out.dashboardGzipKiB = round(files.reduce((n, f) => n + gzipSync(readFileSync(f), { level: 9 }).length, 0) / 1024, 1)
  }
  const keys = network()
  log(`pages: signing a history of ${epochs} epochs (4 validators)`)
  const history = buildHistory(keys, { epochs, reportsPerHub: 2 })
  const account = keys.net.def.devices[0].capex
  const mem = new MemorySource(history)
  const proofs = []
  for (let e = 0; e < epochs; e++) {
    const p = await mem.proof(e, account)
    proofs.push({ leaf: p.leaf === null ? null : toHex(p.leaf), path: p.path })
  }
  // Node: the auditor's own checks, on the same bytes (from memory, no transport).
  const node = { certificatesMs: [], proofsMs: [] }
  for (let i = 0; i < runs; i++) {
    const a = new Auditor(keys.net, mem)
    let t = performance.now()
    const c = await a.certificates()
    node.certificatesMs.push(performance.now() - t)
    t = performance.now()
    const acc = await a.account(account, c.verified)
    node.proofsMs.push(performance.now() - t)
    if (c.verified.length !== epochs || acc.findings.length > 0) throw new Error('pages bench: the Node audit did not pass')
  }
  const raw = Array.from({ length: 400 }, () => {
    const s = ed25519Signer(randomBytes(32))
    const m = randomBytes(120)
    return [s.publicKey, m, s.sign(m)]
  })
  let t = performance.now()
  for (const [k, m, s] of raw) if (!ed25519Verify(k, m, s)) throw new Error('raw verify failed')
  const nodeRawUs = (performance.now() - t) * 1000 / raw.length
  Object.assign(out, { epochs, nodeCertificatesMs: round(median(node.certificatesMs), 1), nodeProofsMs: round(median(node.proofsMs), 1), nodeRawVerifyUs: round(nodeRawUs, 1) })
  if (!existsSync(CHROMIUM)) {
    out.browser = `${CHROMIUM} not installed (apt-get install -y chromium)`
    return out
  }
  const b = spawnSync('npm', ['run', 'build:lab', '--silent', '-w', '@ecandle/pages'], { cwd: ROOT, encoding: 'utf8' })
  if (b.status !== 0) throw new Error(`build:lab failed: ${b.stderr}`)
  const profile = mkdtempSync(join(tmpdir(), 'ecandle-bench-chromium-'))
  const ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS })
  try {
    const page = await ctx.newPage()
    await page.goto('file://' + join(ROOT, 'packages/pages/dist/lab.html'))
    await page.locator('body[data-ready="yes"]').waitFor({ timeout: 10_000 })
    const input = { network: keys.net.def, account, certs: history.certs.map(toHex), proofs }
    const br = []
    for (let i = 0; i < runs; i++) br.push(await page.evaluate(async (x) => await globalThis.ecandleLab.benchAudit(x), input))
    if (br.some(r => r.verified !== epochs || r.findings > 0)) throw new Error(`pages bench: the browser audit did not pass: ${JSON.stringify(br[0])}`)
    const rr = await page.evaluate(async (x) => await globalThis.ecandleLab.benchRaw(x), raw.map(r => r.map(toHex)))
    if (!rr.ok) throw new Error('browser raw verify failed')
    Object.assign(out, {
      browser: `Chromium ${ctx.browser()?.version() ?? ''}`.trim(),
      browserBackend: br[0].backend,
      browserCertificatesMs: round(median(br.map(r => r.certificatesMs)), 1),
      browserProofsMs: round(median(br.map(r => r.proofsMs)), 1),
      browserWebCryptoVerifyUs: round(rr.webcryptoMs * 1000 / raw.length, 1),
      browserNobleVerifyUs: round(rr.nobleMs * 1000 / raw.length, 1)
    })
    out.certificatesBrowserVsNode = round(out.browserCertificatesMs / out.nodeCertificatesMs, 2)
    out.proofsBrowserVsNode = round(out.browserProofsMs / out.nodeProofsMs, 2)
  } finally {
    await ctx.close().catch(() => {})
    rmSync(profile, { recursive: true, force: true })
  }
  return out
}

export function formatPages (r) {
  const fmt = (x, d = 0) => x === undefined ? 'n/a' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
  const rows = [
    ['audit page: verify 100 certificates (browser)', r.browserCertificatesMs === undefined ? 'n/a' : `${fmt(r.browserCertificatesMs, 1)} ms`, '', r.browserCertificatesMs === undefined ? String(r.browser) : `${r.browserBackend}; Node ${fmt(r.nodeCertificatesMs, 1)} ms (browser/Node ${fmt(r.certificatesBrowserVsNode, 2)}); 4 validators, every signature checked, chain linked`],
    ['audit page: one account, proofs in 100 epochs', r.browserProofsMs === undefined ? 'n/a' : `${fmt(r.browserProofsMs, 1)} ms`, '', `Node ${fmt(r.nodeProofsMs, 1)} ms${r.proofsBrowserVsNode === undefined ? '' : ` (browser/Node ${fmt(r.proofsBrowserVsNode, 2)})`}; Merkle path to each certified root`],
    ['  raw Ed25519 verify, browser', r.browserWebCryptoVerifyUs === undefined ? 'n/a' : `${fmt(r.browserWebCryptoVerifyUs, 1)} µs`, '', `WebCrypto, batched; pure-JS fallback ${fmt(r.browserNobleVerifyUs, 1)} µs; node:crypto ${fmt(r.nodeRawVerifyUs, 1)} µs`],
    ['page bundles, gzipped', `${fmt(r.auditPageGzipKiB, 1)} KiB`, '', `audit page (one file: libp2p, noise, yamux, WebSockets, the auditor); dashboard ${fmt(r.dashboardGzipKiB, 1)} KiB`]
  ]
  return rows
}
