import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Finding } from '@ecandle/audit'
import { digestVectors } from '@ecandle/audit/conformance'
import type { EpochSummary, RewardsJson } from '@ecandle/client'
import { createNetwork } from '@ecandle/daemon'
import { encode, verifyCertificate } from '@ecandle/protocol'
import { decodeProofResponse, decodeTallyRequest, encodeProofResponse } from '@ecandle/wire'
import { decodeLeaf, encodeAccountLeaf } from '@ecandle/tally'
import type { Page } from 'playwright-core'
import { Browser, DESKTOP, PHONE, screenshot, type WatchedPage } from './lib/browser.js'
import { EmulateProc, freePort, writeKeySubset } from './lib/links.js'
import { TamperProxy, valueJson } from './lib/tamper-proxy.js'
import { printTailsOnFailure, runCli, Testnet, waitFor, type TestHub } from './lib/testnet.js'

const ROOT = new URL('../../', import.meta.url)
/** The lab page: the audit page's code, bundled the same way, with hooks for tests (npm run build:lab). */
const LAB = new URL('packages/pages/dist/lab.html', ROOT)

/**
 * The pages in a real headless Chromium against 3 hub processes that also listen on WebSockets:
 * the operator dashboard at / (its figures are the API's, a stopped device turns silent, it asks
 * nobody but its hub), and the backer audit page (/audit, and the same file opened from disk)
 * whose light peer runs in the browser: it passes on honest data, fails naming the fault behind a
 * dishonest proxy exactly as `ecandle audit` does, and says in one sentence what is wrong with a
 * bad network file or address. One testnet and one browser for the whole file.
 */
describe('pages: the dashboard and the audit page in Chromium', function () {
  this.timeout(120_000)
  let tn: Testnet
  let browser: Browser
  let hub: TestHub
  let wsAddr: string
  let tcpAddr: string
  const emus: EmulateProc[] = []
  let proxy: TamperProxy | undefined
  /** An epoch ≥ 1 with entries of every hub, the next one decided too. */
  let E: number
  /** A capex account of hub 1 that earned by epoch E. */
  let account: string
  let watched: WatchedPage[] = []

  before(async function () {
    this.timeout(180_000)
    tn = await Testnet.create({ hubs: 3, devicesPerHub: 2, epochLengthS: 3, gracePeriodS: 1, reportIntervalS: 1, entryIntervalMs: 500 })
    hub = tn.hubs[0]
    // Every hub also listens on WebSockets (the audit page's transport); hub 1's devices talk MQTT
    // to its embedded broker from ecandle-emulate processes the test can stop one by one.
    const ports = await Promise.all(tn.hubs.map(async () => await freePort()))
    tn.hubs.forEach((h, i) => h.configure(c => { c.listen = [...(c.listen ?? []), `/ip4/127.0.0.1/tcp/${ports[i]}/ws`] }))
    const mqttPort = await freePort()
    hub.configure(c => { c.emulator = null; c.devices = { mqtt: { embedded: { host: '127.0.0.1', port: mqttPort } }, timeSyncS: 5 } })
    await tn.start()
    const ids = tn.net.def.devices.filter(d => d.hub === hub.peerId).map(d => d.id)
    const link = ['--mqtt', `mqtt://127.0.0.1:${mqttPort}`, '--network', tn.net.id, '--interval', '1', '--resend-ms', '1000']
    ids.forEach((id, i) => {
      writeKeySubset(hub.deviceKeysPath, join(tn.dir, `dev-${i}.json`), [id])
      const e = new EmulateProc(join(tn.dir, `emu-${i}`), join(tn.dir, `dev-${i}.json`))
      // The second device's clock starts 2 h fast: its first reports are refused "clock".
      e.start(i === 1 ? [...link, '--skew-s', '7200', '--backfill', '2'] : link)
      emus.push(e)
    })
    browser = await Browser.launch()
    const status = await hub.status()
    wsAddr = status.addrs.find(a => a.includes('/ws/'))!
    tcpAddr = status.addrs.find(a => a.includes('/tcp/') && !a.includes('/ws'))!
    assert.ok(wsAddr !== undefined, `hub 1 announces a WebSockets address: ${status.addrs.join(' ')}`)
    E = await waitFor('an epoch ≥ 1 with entries of every hub, and the next decided', async () => {
      const epochs = await hub.get<EpochSummary[]>('/epochs?from=0&limit=1000')
      const i = epochs.findIndex((e, k) => k > 0 && e.epoch >= 1 && e.cut.every((c, j) => c.seq > epochs[k - 1].cut[j].seq))
      return i > 0 && i + 1 < epochs.length ? epochs[i].epoch : undefined
    }, { timeoutMs: 120_000 })
    const capex = tn.net.def.devices.filter(d => d.hub === hub.peerId).map(d => d.capex)
    account = await waitFor(`a capex account of hub 1 that earned by epoch ${E}`, async () => {
      for (const a of capex) if (BigInt((await hub.get<RewardsJson>(`/rewards/${a}?epoch=${E}`)).cumulative) > 0n) return a
      return undefined
    }, { timeoutMs: 10_000 })
  })
  afterEach(async function () {
    printTailsOnFailure(this, tn)
    if (this.currentTest?.state === 'failed') for (const w of watched) process.stderr.write(`----- page ${w.page.url()}: errors ${JSON.stringify(w.errors)}\n`)
    for (const w of watched) await w.page.close().catch(() => {})
    watched = []
    await proxy?.stop()
    proxy = undefined
  })
  after(async () => {
    for (const e of emus) await e.stop()
    await browser?.close()
    await tn?.destroy()
  })

  async function open (url: string, viewport = DESKTOP): Promise<WatchedPage> {
    const w = await browser.newPage(viewport)
    watched.push(w)
    await w.page.goto(url)
    return w
  }

  const text = async (page: Page, sel: string): Promise<string> => (await page.locator(sel).textContent({ timeout: 10_000 }))?.trim() ?? ''

  it('the browser build computes the same ids, roots and signature verdicts as Node on the protocol vectors', async () => {
    const b = spawnSync('npm', ['run', 'build:lab', '--silent', '-w', '@ecandle/pages'], { cwd: ROOT, encoding: 'utf8' })
    assert.equal(b.status, 0, b.stdout + b.stderr)
    const V = JSON.parse(readFileSync(new URL('packages/protocol/vectors/protocol-v1.json', ROOT), 'utf8'))
    const w = await open(LAB.href)
    await w.page.locator('body[data-ready="yes"]').waitFor({ timeout: 10_000 })
    const inBrowser = await w.page.evaluate(async (v) => await (globalThis as any).ecandleLab.digestVectors(v), V) as Awaited<ReturnType<typeof digestVectors>>
    const inNode = await digestVectors(V)
    assert.equal(inNode.backend, 'node:crypto')
    assert.equal(inBrowser.backend, 'webcrypto', 'Chromium verified with WebCrypto Ed25519 (a file is a secure context)')
    assert.deepEqual(inBrowser.values, inNode.values)
    // And they are the committed values, not merely equal to each other.
    assert.equal(inNode.values.networkId, V.network.id)
    assert.equal(inNode.values.root, V.tally.root)
    assert.deepEqual((inNode.values.certificates as Array<{ valueId: string }>).map(c => c.valueId).slice(0, V.consensus.certificates.length), V.consensus.certificates.map((c: any) => c.valueId))
    assert.deepEqual(inNode.values.invalidCertificatesBatched, V.consensus.invalidCertificates.map((c: any) => c.code))
    assert.deepEqual(w.errors, [])
  })

  describe('operator dashboard at /', () => {
    it('shows the figures the API returns, live, on desktop and phone; asks nobody but its hub; no console errors', async () => {
      const w = await open(`${hub.url!}/?account=${account}`)
      const { page } = w
      await page.locator('body[data-ready="yes"]').waitFor({ timeout: 20_000 })
      // Reports grow every half second: the page must catch up with the API, figure by figure.
      let last = ''
      await waitFor('the dashboard\'s peers, devices, reports and last epoch to equal GET /status', async () => {
        const [s, shown] = await Promise.all([hub.status(), Promise.all(['#fig-peers', '#fig-devices', '#fig-reports', '#fig-last-epoch'].map(async sel => await text(page, sel)))])
        last = `api ${s.peers}/${s.devices}/${s.reports}/${String(s.lastEpoch)} page ${shown.join('/')}`
        return shown[0] === String(s.peers) && shown[1] === String(s.devices) && shown[2] === String(s.reports) && shown[3] === String(s.lastEpoch)
      }, { timeoutMs: 30_000, intervalMs: 100, describe: () => last })
      await waitFor('the account\'s earnings to equal GET /rewards of the last decided epoch', async () => {
        const shownEpoch = await page.locator('#earn-cumulative').getAttribute('data-epoch')
        if (shownEpoch === null || shownEpoch === '') return false
        const r = await hub.get<RewardsJson>(`/rewards/${account}?epoch=${shownEpoch}`)
        last = `epoch ${shownEpoch}: api ${r.cumulative}/${r.epochAmount}, page ${await text(page, '#earn-cumulative')}/${await text(page, '#earn-last')}`
        return await text(page, '#earn-cumulative') === r.cumulative && await text(page, '#earn-last') === r.epochAmount && r.cumulative !== '0'
      }, { timeoutMs: 20_000, describe: () => last })
      // Every registered device of this hub has a row; the refused one shows why.
      const rows = page.locator('#devices tbody tr')
      assert.equal(await rows.count(), tn.net.def.devices.filter(d => d.hub === hub.peerId).length)
      const refused = tn.net.def.devices.filter(d => d.hub === hub.peerId)[1].id
      await waitFor('the refused device\'s row to name its last refusal', async () => /clock/.test(await text(page, `#devices tr[data-device="${refused}"] td:last-child`)), { timeoutMs: 20_000 })
      assert.equal(await page.locator('#health-checks li').count() > 5, true)
      // The hub serves GET /gov: the section shows it (nothing is pending on this testnet yet).
      await waitFor('the governance section to read GET /gov', async () => /No operation is waiting/.test(await text(page, '#governance')), { timeoutMs: 20_000 })
      assert.equal(await page.locator('#governance-section').isHidden(), false, 'a governance route: its section is shown')
      // An operation the validators must approve waits for this hub, and no longer once it approved.
      const proposed = await runCli(['gov', 'propose', 'params', '--network', tn.networkPath, '--data-dir', hub.dir, '--emission', '2000000000'])
      const opId = /params ([0-9a-f]{64}) submitted/.exec(proposed.stdout)?.[1]
      assert.ok(opId !== undefined, `ecandle gov propose: ${proposed.stdout}${proposed.stderr}`)
      const item = page.locator(`#governance li[data-op="${opId}"]`)
      await waitFor('the proposed operation to show as waiting for this hub', async () => await item.count() === 1, { timeoutMs: 20_000 })
      assert.match(await item.innerText(), /params .*approved by 0 of the \d+ needed/)
      const approved = await runCli(['gov', 'approve', opId, '--data-dir', hub.dir])
      assert.equal(approved.code, 0, approved.stderr)
      await waitFor('the operation to leave the list once this hub approved it', async () => await item.count() === 0, { timeoutMs: 20_000 })
      await screenshot(page, 'dashboard-desktop')
      await page.setViewportSize(PHONE)
      await screenshot(page, 'dashboard-phone')
      const origin = new URL(hub.url!).origin
      const outside = w.requests.filter(u => !u.startsWith(origin + '/') && !u.startsWith('data:'))
      assert.deepEqual(outside, [], 'no request outside the hub')
      assert.deepEqual(w.errors, [], 'no console errors')
    })

    it('a device stopped in the emulator shows as silent, and health is not green while it is', async () => {
      const stopped = tn.net.def.devices.filter(d => d.hub === hub.peerId)[0].id
      const w = await open(`${hub.url!}/?silentAfterS=5`)
      const { page } = w
      await page.locator('body[data-ready="yes"]').waitFor({ timeout: 20_000 })
      await waitFor('both devices reporting (not silent)', async () => await page.locator('#devices tr[data-silent="yes"]').count() === 0, { timeoutMs: 20_000 })
      await emus[0].stop()
      const row = page.locator(`#devices tr[data-device="${stopped}"]`)
      await waitFor(`device ${stopped} marked silent`, async () => await row.getAttribute('data-silent') === 'yes', { timeoutMs: 30_000 })
      assert.match(await text(page, `#devices tr[data-device="${stopped}"]`), /SILENT/)
      const level = await page.locator('#health-state').getAttribute('data-level')
      assert.notEqual(level, 'green', 'a silent device is never "all OK"')
      assert.match(await text(page, '#health-state'), new RegExp(`silent[^;]*${stopped}`))
      assert.equal(await page.locator('#devices tr[data-silent="yes"]').count(), 1, 'only the stopped device is silent')
      await screenshot(page, 'dashboard-silent-device')
      assert.deepEqual(w.errors, [])
    })
  })

  describe('backer audit page', () => {
    interface Verdict { ok: boolean, account?: { epochs: Array<{ epoch: number, amount: string | null, cumulative: string | null }> }, epoch?: { epoch: number, root: string, recomputedRoot: string | null, entries: number, reports: number }, findings: Finding[] }

    /** Fills the form and runs the audit; returns the final state (passed, failed, error) and the verdict. */
    async function audit (page: Page, o: { network?: string, peer: string, account?: string, epoch?: number, full?: boolean }): Promise<{ state: string, verdict?: Verdict, message: string }> {
      await page.locator('body[data-state="ready"], body[data-state="passed"], body[data-state="failed"], body[data-state="error"]').waitFor({ timeout: 20_000 })
      if (o.network !== undefined) await page.setInputFiles('#network-file', o.network)
      await page.fill('#peer', o.peer)
      await page.fill('#account', o.account ?? '')
      await page.fill('#epoch', o.epoch === undefined ? '' : String(o.epoch))
      await page.setChecked('#full', o.full === true)
      if (o.network !== undefined) await page.locator('#network-info', { hasText: /Network|not a valid/ }).waitFor({ timeout: 5000 })
      await page.click('#run')
      await page.locator('body[data-state="passed"], body[data-state="failed"], body[data-state="error"]').waitFor({ timeout: 60_000 })
      const state = (await page.locator('body').getAttribute('data-state')) ?? ''
      const json = await page.locator('#verdict-json').textContent()
      return { state, verdict: state === 'error' || json === null || json === '' ? undefined : JSON.parse(json) as Verdict, message: (await page.locator('#message').textContent()) ?? '' }
    }

    async function cli (peer: string, args: string[]): Promise<Verdict> {
      const r = await runCli(['audit', '--network', tn.networkPath, '--peer', peer, ...args, '--json'], { timeoutMs: 90_000 })
      return JSON.parse(r.stdout) as Verdict
    }

    /** The parts of a verdict that must agree between the page and the CLI on the same data. */
    const core = (v: Verdict): unknown => ({
      ok: v.ok,
      account: v.account?.epochs,
      epoch: v.epoch === undefined ? undefined : { epoch: v.epoch.epoch, root: v.epoch.root, recomputedRoot: v.epoch.recomputedRoot, entries: v.epoch.entries, reports: v.epoch.reports },
      findings: v.findings.map(f => ({ kind: f.kind, code: f.code, epoch: f.epoch, account: f.account }))
    })

    it('passes on honest data over WebSockets, served by the hub and from a saved file, as ecandle audit does', async () => {
      const w = await open(`${hub.url!}/audit`)
      const r = await audit(w.page, { network: tn.networkPath, peer: wsAddr, account, epoch: E, full: true })
      assert.equal(r.state, 'passed', r.message || JSON.stringify(r.verdict?.findings))
      assert.equal(r.verdict?.account?.epochs.length, E + 1)
      assert.equal(r.verdict?.epoch?.recomputedRoot, r.verdict?.epoch?.root)
      assert.ok((r.verdict?.epoch?.reports ?? 0) > 0)
      const api = await hub.get<RewardsJson>(`/rewards/${account}?epoch=${E}`)
      assert.equal(r.verdict?.account?.epochs[E].cumulative, api.cumulative, 'the proven figure is the hub\'s figure')
      assert.match(await text(w.page, '#verdict'), /AUDIT PASSED/)
      assert.ok(await w.page.locator('#earnings-chart svg rect').count() >= E + 1, 'a chart of the account\'s earnings')
      assert.deepEqual(core(await cli(tcpAddr, ['--account', account, '--epoch', String(E), '--full'])), core(r.verdict!), 'the same verdict as ecandle audit')
      await screenshot(w.page, 'audit-passed-desktop')
      await w.page.setViewportSize(PHONE)
      await screenshot(w.page, 'audit-passed-phone')
      const origin = new URL(hub.url!).origin
      const wsOrigin = `ws://127.0.0.1:${wsAddr.split('/')[4]}`
      assert.deepEqual(w.requests.filter(u => !u.startsWith(origin + '/') && !u.startsWith(wsOrigin) && !u.startsWith('data:')), [], 'only the hub (its page, its WebSockets)')
      assert.deepEqual(w.errors, [])

      // The same page saved to disk: one self-contained file, opened with file://.
      const dir = await mkdtemp(join(tmpdir(), 'ecandle-saved-'))
      try {
        const res = await fetch(`${hub.url!}/audit`)
        assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'sha256-/)
        const file = join(dir, 'ecandle-audit.html')
        writeFileSync(file, Buffer.from(await res.arrayBuffer()))
        const saved = await open(`file://${file}`)
        const s = await audit(saved.page, { network: tn.networkPath, peer: wsAddr, account, epoch: E })
        assert.equal(s.state, 'passed', s.message)
        assert.deepEqual(saved.requests.filter(u => !u.startsWith('file://') && !u.startsWith(wsOrigin) && !u.startsWith('data:')), [], 'a saved page asks nobody but the hub it audits')
        assert.match(await text(saved.page, '#crypto-backend'), /WebCrypto/, 'a file is a secure context: WebCrypto Ed25519')
        assert.deepEqual(saved.errors, [])
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })

    it('names a tampered reward proof behind a dishonest proxy, as ecandle audit does', async () => {
      proxy = await TamperProxy.start(tn.net, tcpAddr)
      proxy.tamper = (p, req, f) => {
        if (p !== 'tally' || decodeTallyRequest(req).epoch !== E) return f
        const proof = decodeProofResponse(f)
        if (proof.leaf === null) return f
        const leaf = decodeLeaf(proof.leaf)
        if (leaf.k !== 'a') return f
        return encodeProofResponse({ ...proof, leaf: encodeAccountLeaf({ ...leaf, amount: leaf.amount + 1n, cumulative: leaf.cumulative + 1n }) })
      }
      const w = await open(`${hub.url!}/audit`)
      const r = await audit(w.page, { network: tn.networkPath, peer: proxy.wsAddr, account, epoch: E })
      assert.equal(r.state, 'failed', r.message)
      const f = r.verdict?.findings.find(x => x.kind === 'proof' && x.code === 'proof-invalid')
      assert.ok(f !== undefined, JSON.stringify(r.verdict?.findings))
      assert.equal(f.epoch, E)
      assert.equal(f.account, account)
      assert.equal(await w.page.locator(`#finding-list li[data-code="proof-invalid"]`).count(), 1, 'the page names the fault')
      assert.match(await text(w.page, '#verdict'), /AUDIT FAILED/)
      assert.deepEqual(core(await cli(proxy.addr, ['--account', account, '--epoch', String(E)])), core(r.verdict!), 'the same verdict as ecandle audit')
      await screenshot(w.page, 'audit-failed-proof')
      assert.deepEqual(w.errors, [])
    })

    it('names a certificate with too few signers, as ecandle audit does', async () => {
      proxy = await TamperProxy.start(tn.net, tcpAddr)
      proxy.tamper = (p, _req, f) => {
        if (p !== 'certificates') return f
        const c = verifyCertificate(tn.net, f)
        if (c.value.epoch !== E) return f
        return encode({ value: valueJson(c.value), round: c.round, sigs: c.signatures.slice(0, 1) })
      }
      const w = await open(`${hub.url!}/audit`)
      const r = await audit(w.page, { network: tn.networkPath, peer: proxy.wsAddr })
      assert.equal(r.state, 'failed', r.message)
      const f = r.verdict?.findings.find(x => x.kind === 'certificate' && x.code === 'too-few-signers')
      assert.ok(f !== undefined, JSON.stringify(r.verdict?.findings))
      assert.equal(f.epoch, E)
      assert.match(f.message, new RegExp(`epoch ${E}: 1 signers?, need 3 of 3`))
      const c = await cli(proxy.addr, [])
      assert.deepEqual(core(c), core(r.verdict!), 'the same verdict as ecandle audit')
      assert.match(await text(w.page, '#finding-list'), /too-few-signers/)
      assert.deepEqual(w.errors, [])
    })

    it('a malformed network file, another network\'s file, an unreachable address: one clear message each', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'ecandle-bad-'))
      try {
        const w = await open(`${hub.url!}/audit`)
        const malformed = join(dir, 'broken.json')
        writeFileSync(malformed, '{ "name": "x", ')
        const other = await createNetwork({ dir: join(dir, 'other'), hubs: 1, devicesPerHub: 1, host: '127.0.0.1' })
        const closed = await freePort()
        const unreachable = `/ip4/127.0.0.1/tcp/${closed}/ws/p2p/${hub.peerId}`
        const cases: Array<[string, Parameters<typeof audit>[1], RegExp]> = [
          ['malformed network file', { network: malformed, peer: wsAddr }, /not a valid network file/],
          ['another network\'s file', { network: other.networkPath, peer: wsAddr }, new RegExp(`does not serve network [0-9a-f]+.*Is this the network file`)],
          ['unreachable address', { network: tn.networkPath, peer: unreachable }, /Cannot reach the hub at/],
          ['a TCP address', { network: tn.networkPath, peer: tcpAddr }, /only over WebSockets/]
        ]
        for (const [what, input, want] of cases) {
          const r = await audit(w.page, input)
          assert.equal(r.state, 'error', `${what}: ${r.message}`)
          assert.match(r.message, want, what)
          assert.doesNotMatch(r.message, /\n\s+at |Error:|undefined/, `${what}: a sentence, not a stack trace`)
          assert.equal(await w.page.locator('#message').isVisible(), true, `${what}: shown`)
          assert.equal(await w.page.locator('#result').isHidden(), true)
        }
        await w.page.setViewportSize(PHONE)
        await screenshot(w.page, 'audit-error-phone')
        // Chromium itself logs the refused WebSocket of the unreachable case; the page logs nothing.
        assert.deepEqual(w.errors.filter(e => !/^WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/' failed/.test(e)), [])
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })
  })
})
