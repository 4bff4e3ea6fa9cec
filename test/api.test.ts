import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateSeed, peerIdFromPublicKey, signerFromSeed, signOperation, verifyCertificate } from '@ecandle/protocol'
import { verifyAccountProof } from '@ecandle/tally'
import type { EpochRewardsJson, EpochSummary, HubStatus, NetworkJson, PeerInfo as PeerJson, RewardsJson } from '@ecandle/client'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { EventTap, printTailsOnFailure, Testnet, waitFor, type EntryJson, type TestHub } from './lib/testnet.js'

/**
 * The local HTTP API of real hub processes (3 validators, 3 s epochs, real TCP): every route
 * answers with its documented shape and real data, /docs and /docs/json describe every route,
 * /metrics exports ecandle_, libp2p_ and gossipsub_ series, state-changing routes need the
 * token, bad input gets a 400 naming the field, and the API listens on loopback by default.
 * hub-1 runs with no `api` section in its config (the true default); the test talks to it.
 */

const EPOCH_S = 3

/** Every route of the API, as OpenAPI paths. */
const ROUTES: Array<[method: string, path: string]> = [
  ['get', '/status'], ['get', '/peers'], ['get', '/devices'], ['get', '/logs/{hub}'], ['get', '/reports/{device}/{counter}'],
  ['get', '/events'], ['get', '/epochs'], ['get', '/epochs/{epoch}'], ['get', '/epochs/{epoch}/rewards'], ['get', '/rewards/{account}'], ['get', '/tally/{epoch}'],
  ['get', '/network'], ['get', '/evidence'], ['get', '/metrics'], ['get', '/health'], ['post', '/admin/partition'],
  ['get', '/gov'], ['get', '/registry'], ['post', '/gov/submit'], ['post', '/gov/approve']
]

/** A well-formed peer id of no hub of the network. */
const strangerPeerId = (): string => peerIdFromPublicKey(signerFromSeed(generateSeed()).publicKey)

async function request (url: string, init: RequestInit = {}): Promise<{ status: number, type: string, text: string, json: () => any }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) })
  const text = await res.text()
  return { status: res.status, type: res.headers.get('content-type') ?? '', text, json: () => JSON.parse(text) }
}

describe('local HTTP API: 3 hub processes', function () {
  let tn: Testnet
  let h1: TestHub
  let url: string
  let token: string
  let tap: EventTap

  before(async function () {
    this.timeout(60_000)
    tn = await Testnet.create({ hubs: 3, devicesPerHub: 2, epochLengthS: EPOCH_S, gracePeriodS: 1, reportIntervalS: 1, entryIntervalMs: 500 })
    h1 = tn.hubs[0]
    // No `api` section at all: host and port are the daemon's defaults.
    h1.configure(c => { delete c.api })
    await tn.start()
    url = h1.url as string
    token = (await readFile(join(h1.dir, 'api.token'), 'utf8')).trim()
    tap = new EventTap(url)
    await tap.opened()
    await waitFor('every hub connected to the 2 others', async () => (await tn.statuses()).every(s => s.peers >= 2), { timeoutMs: 20_000 })
  })
  afterEach(function () { printTailsOnFailure(this, tn) })
  after(async function () {
    this.timeout(30_000)
    tap?.close()
    await tn?.destroy()
  })

  it('listens on 127.0.0.1 only when the config names no API host', async function () {
    if (!existsSync('/proc/net/tcp')) this.skip()
    const api = JSON.parse(await readFile(join(h1.dir, 'api.json'), 'utf8')) as { url: string }
    const u = new URL(api.url)
    assert.equal(u.hostname, '127.0.0.1')
    const port = Number(u.port)
    // /proc/net/tcp{,6}: "sl local_address rem_address st …", addresses as HEXIP:HEXPORT, st 0A = LISTEN.
    const listening: string[] = []
    for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
      if (!existsSync(file)) continue
      for (const line of (await readFile(file, 'utf8')).trim().split('\n').slice(1)) {
        const [, local, , st] = line.trim().split(/\s+/)
        const [ip, p] = local.split(':')
        if (st === '0A' && parseInt(p, 16) === port) listening.push(`${file.endsWith('6') ? 'tcp6' : 'tcp'} ${ip}`)
      }
    }
    assert.deepEqual(listening, ['tcp 0100007F'], `sockets listening on the API port ${port}: ${listening.join(', ')} (0100007F is 127.0.0.1)`)
    assert.ok(!h1.logTail(200).includes('non-loopback'), 'no non-loopback warning in the hub log')
  })

  it('serves OpenAPI 3 at /docs/json describing every route, and Swagger UI at /docs', async function () {
    const ui = await request(`${url}/docs`)
    assert.equal(ui.status, 200)
    assert.match(ui.type, /text\/html/)
    assert.match(ui.text, /swagger-ui/i)
    const doc = (await request(`${url}/docs/json`)).json()
    assert.match(doc.openapi, /^3\./)
    assert.equal(doc.info.title, 'eCandle hub API')
    assert.deepEqual(doc.components.securitySchemes.bearerAuth, { ...doc.components.securitySchemes.bearerAuth, type: 'http', scheme: 'bearer' })
    for (const [method, path] of ROUTES) {
      const op = doc.paths[path]?.[method]
      assert.ok(op !== undefined, `${method.toUpperCase()} ${path} is documented`)
      assert.ok(typeof op.summary === 'string' && op.summary.length > 0, `${path} has a summary`)
      assert.ok(op.responses?.['200'] !== undefined, `${path} documents its 200 response`)
    }
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops as object).map(m => `${m} ${p}`)).sort()
    assert.deepEqual(documented, ROUTES.map(([m, p]) => `${m} ${p}`).sort(), 'no undocumented or stray routes')
    assert.deepEqual(doc.paths['/admin/partition'].post.security, [{ bearerAuth: [] }])
    assert.ok(doc.paths['/admin/partition'].post.responses['401'] !== undefined)
    assert.ok(doc.paths['/logs/{hub}'].get.parameters.some((p: any) => p.name === 'limit' && p.in === 'query' && p.schema.maximum === 256))
    const sse = doc.paths['/events'].get
    assert.ok(sse.responses['200'].content['text/event-stream'] !== undefined, '/events is documented as text/event-stream')
    for (const ev of ['entry', 'evidence', 'certificate']) assert.ok(sse.description.includes(`\`${ev}\``), `/events describes the ${ev} event`)
    assert.ok(doc.paths['/metrics'].get.responses['200'].content['text/plain'] !== undefined)
  })

  it('GET /status, /peers and /devices: this hub, the 2 other hubs as validators, its 2 devices', async function () {
    const s = await h1.get<HubStatus>('/status')
    assert.equal(s.peerId, h1.peerId)
    assert.equal(s.validator, true)
    assert.ok(s.peers >= 2)
    const others = tn.hubs.slice(1).map(h => h.peerId).sort()
    const peers = await waitFor('GET /peers to list both other hubs', async () => {
      const p = await h1.get<PeerJson[]>('/peers')
      return p.filter(x => x.validator).map(x => x.peerId).sort().join() === others.join() ? p : undefined
    }, { timeoutMs: 10_000 })
    assert.equal(peers.length, 2, 'one row per peer, and no other peers')
    for (const p of peers) {
      assert.equal(p.validator, true)
      assert.ok(['inbound', 'outbound'].includes(p.direction), `direction ${p.direction}`)
      assert.ok(p.addrs.length >= 1 && p.addrs.every(a => a.startsWith('/ip4/127.0.0.1/tcp/')), `addrs ${p.addrs.join(' ')}`)
    }
    const devices = await waitFor('both devices of hub-1 connected', async () => {
      const d = await h1.get<Array<{ device: string, link: string, connected: boolean, errors: number }>>('/devices')
      return d.length === 2 && d.every(x => x.connected) ? d : undefined
    }, { timeoutMs: 10_000 })
    assert.deepEqual(devices.map(d => d.device), ['h1-d001', 'h1-d002'])
    for (const d of devices) { assert.equal(d.link, 'emulator'); assert.equal(typeof d.errors, 'number') }
  })

  it('GET /logs/:hub pages a log; GET /reports/:device/:counter finds a report of it; GET /evidence is an array', async function () {
    const hub2 = tn.hubs[1].peerId
    await waitFor('3 entries of hub-2\'s log on hub-1', async () => ((await h1.status()).heads[hub2]?.seq ?? 0) >= 3)
    const page = await h1.get<EntryJson[]>(`/logs/${hub2}?from=2&limit=2`)
    assert.deepEqual(page.map(e => [e.hub, e.seq]), [[hub2, 2], [hub2, 3]])
    const first = await h1.get<EntryJson[]>(`/logs/${hub2}?limit=1`)
    assert.equal(first[0].seq, 1, 'from defaults to 1')
    assert.equal(first[0].prev, null)
    assert.equal(page[0].prev, first[0].id)
    assert.equal(typeof page[0].time, 'number')
    const withReport = [...first, ...page].find(e => e.reports.length > 0)
    assert.ok(withReport !== undefined, 'an entry with reports')
    const index = withReport.reports.length - 1
    const r = withReport.reports[index]
    assert.match(r.device, /^h2-d00[12]$/)
    assert.ok(Number.isInteger(r.counter) && Number.isInteger(r.energyMwh))
    const found = await h1.get<{ device: string, counter: number, hub: string, seq: number, index: number }>(`/reports/${r.device}/${r.counter}`)
    assert.deepEqual(found, { device: r.device, counter: r.counter, hub: hub2, seq: withReport.seq, index })
    const missing = await request(`${url}/reports/${r.device}/${r.counter + 1_000_000_000}`)
    assert.equal(missing.status, 404)
    assert.equal(missing.json().error, 'not-found')
    const evidence = await h1.get<unknown[]>('/evidence')
    assert.ok(Array.isArray(evidence))
    assert.equal(evidence.length, 0, 'honest hubs: no evidence')
  })

  it('GET /events delivers entry and certificate events', async function () {
    this.timeout(40_000)
    const hubs = new Set(tn.peerIds)
    const entry = await waitFor('an entry event', () => tap.events.find(e => e.event === 'entry'), { timeoutMs: 10_000 })
    assert.ok(hubs.has(entry.data.hub))
    assert.ok(Number.isInteger(entry.data.seq) && entry.data.seq >= 1)
    assert.equal(typeof entry.data.id, 'string')
    assert.ok(Array.isArray(entry.data.reportIds))
    assert.equal(entry.data.reports, entry.data.reportIds.length)
    const cert = await waitFor('a certificate event', () => tap.events.find(e => e.event === 'certificate'), { timeoutMs: 30_000, describe: async () => `lastEpoch ${String((await h1.status()).lastEpoch)}` })
    assert.ok(Number.isInteger(cert.data.epoch))
    assert.match(cert.data.valueId, /^[0-9a-f]{64}$/)
    assert.ok(cert.data.signers.length >= 3 && cert.data.signers.every((s: string) => hubs.has(s)), 'a quorum of 3 signed')
    assert.match(cert.data.countedMwh, /^[0-9]+$/)
    assert.match(cert.data.paid, /^[0-9]+$/)
    // The event matches what the hub then serves for that epoch.
    const served = await h1.get<EpochSummary>(`/epochs/${cert.data.epoch as number}`)
    assert.equal(served.valueId, cert.data.valueId)
  })

  it('GET /epochs, /epochs/:e, /rewards/:account (proof verifies against the certified root) and /tally/:e?explain=', async function () {
    this.timeout(60_000)
    const device = tn.net.def.devices[0]
    const account = device.capex
    // An epoch in which the capex account has earned something (devices report from the start).
    const r = await waitFor(`a reward with a proof for ${account.slice(0, 8)}…`, async () => {
      const x = await h1.get<RewardsJson>(`/rewards/${account}`)
      return x.proof !== null && BigInt(x.cumulative) > 0n ? x : undefined
    }, { timeoutMs: 45_000, describe: async () => `lastEpoch ${String((await h1.status()).lastEpoch)}` })
    const list = await h1.get<EpochSummary[]>('/epochs?from=0&limit=1000')
    assert.ok(list.length >= 1)
    list.forEach((x, i) => { assert.equal(x.epoch, list[0].epoch + i, 'consecutive') })
    const last = list[list.length - 1]
    assert.ok(last.epoch >= r.epoch)
    const tail = await h1.get<EpochSummary[]>('/epochs?limit=1')
    assert.ok(tail.length === 1 && tail[0].epoch >= last.epoch, 'default from: the last `limit` epochs')
    const e = await h1.get<EpochSummary>(`/epochs/${r.epoch}`)
    const inList = list.find(x => x.epoch === r.epoch) as EpochSummary
    // (The certificate itself may be swapped for the canonical copy meanwhile; the decision may not.)
    for (const k of ['valueId', 'root', 'prev', 'cut', 'totals'] as const) assert.deepEqual(e[k], inList[k], `/epochs/${r.epoch} ${k} as in /epochs`)
    for (const k of ['epoch', 'valueId', 'root', 'prev', 'round', 'signers', 'cut', 'totals', 'certificate']) assert.ok(k in e, `epoch summary has ${k}`)
    const cert = verifyCertificate(tn.net, Buffer.from(e.certificate, 'base64'))
    assert.equal(cert.valueId, e.valueId)
    assert.equal(cert.value.root, e.root)
    assert.equal(e.cut.length, 3)
    // The proof, checked against the root of the certificate (not the root the answer carries).
    assert.equal(r.account, account)
    assert.equal(r.root, e.root)
    const proof = r.proof as NonNullable<RewardsJson['proof']>
    const leaf = verifyAccountProof({ leaf: new Uint8Array(Buffer.from(proof.leaf, 'hex')), path: proof.path, root: proof.root }, cert.value.root)
    assert.ok(leaf !== undefined, 'the proof verifies against the certified root')
    assert.equal(leaf.account, account)
    assert.equal(leaf.epoch, r.epoch)
    assert.equal(leaf.amount, BigInt(r.epochAmount))
    assert.equal(leaf.cumulative, BigInt(r.cumulative))
    // ?epoch= asks for that epoch explicitly.
    assert.deepEqual(await h1.get<RewardsJson>(`/rewards/${account}?epoch=${r.epoch}`), r)
    const ex = await h1.get<{ device: string, row: object | null, reports: Array<{ status: string, reason: string | null }>, byStatus: Record<string, number>, text: string }>(`/tally/${r.epoch}?explain=${device.id}`)
    assert.equal(ex.device, device.id)
    assert.ok(Array.isArray(ex.reports))
    assert.equal(Object.values(ex.byStatus).reduce((a, b) => a + b, 0), ex.reports.length)
    assert.ok(ex.text.startsWith(`device ${device.id}, epoch ${r.epoch}`))
    // Every account's and device's reward of the epoch, as decided: the same figures as /rewards.
    const all = await h1.get<EpochRewardsJson>(`/epochs/${r.epoch}/rewards`)
    assert.equal(all.root, e.root)
    assert.deepEqual(all.accounts.find(a => a.account === account), { account, epochAmount: r.epochAmount, cumulative: r.cumulative })
    assert.equal(all.devices.reduce((n, d) => n + BigInt(d.reward), 0n), BigInt(e.totals.paid), 'device rewards add up to what the epoch paid')
    assert.equal((await request(`${url}/epochs/${last.epoch + 1000}/rewards`)).status, 404)
    const netJson = await h1.get<NetworkJson>('/network')
    assert.equal(netJson.id, tn.net.id)
    assert.deepEqual(netJson.definition, tn.net.def)
    const notYet = await request(`${url}/epochs/${last.epoch + 1000}`)
    assert.equal(notYet.status, 404)
    assert.equal(notYet.json().error, 'not-found')
  })

  it('serves the dashboard at / and the audit page at /audit: types, caching, gzip, a Content-Security-Policy; the API routes untouched', async () => {
    const index = await fetch(`${url}/`)
    const html = await index.text()
    assert.equal(index.status, 200)
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8')
    assert.equal(index.headers.get('cache-control'), 'no-cache')
    assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self'.*connect-src 'self'/)
    assert.equal(index.headers.get('x-content-type-options'), 'nosniff')
    assert.equal(index.headers.get('content-encoding'), 'gzip', 'compressed for a slow link (fetch asks for gzip)')
    const etag = index.headers.get('etag') ?? ''
    assert.equal((await fetch(`${url}/`, { headers: { 'if-none-match': etag } })).status, 304, 'revalidated by ETag')
    const assets = [...html.matchAll(/(?:src|href)="\.\/(assets\/[^"]+)"/g)].map(m => m[1])
    assert.ok(assets.some(a => a.endsWith('.js')) && assets.some(a => a.endsWith('.css')), `index.html names its script and style: ${assets.join(', ')}`)
    for (const a of assets) {
      const res = await fetch(`${url}/${a}`)
      await res.arrayBuffer()
      assert.equal(res.status, 200, a)
      assert.match(res.headers.get('content-type') ?? '', a.endsWith('.js') ? /^text\/javascript/ : /^text\/css/)
      assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable', 'hashed names: cached for good')
    }
    assert.equal((await request(`${url}/assets/nope.js`)).status, 404)
    assert.equal((await request(`${url}/assets/..%2Fpackage.json`)).status, 404, 'only the built files, never a path the request names')
    const audit = await fetch(`${url}/audit`)
    const page = await audit.text()
    assert.equal(audit.status, 200)
    assert.equal(audit.headers.get('content-type'), 'text/html; charset=utf-8')
    assert.doesNotMatch(page, /src="\.\/assets|href="\.\/assets/, 'the audit page is one self-contained file')
    assert.match(audit.headers.get('content-security-policy') ?? '', /script-src 'sha256-[A-Za-z0-9+/=]+'; style-src 'sha256-[A-Za-z0-9+/=]+';.*connect-src 'self' ws: wss:/)
    // The API is as it was: JSON routes and /docs answer as before.
    assert.equal((await request(`${url}/status`)).type, 'application/json; charset=utf-8')
    assert.equal((await request(`${url}/docs`)).status, 200)
  })

  it('GET /metrics: ecandle_, libp2p_, gossipsub_ and process series, bounded topic labels, no key material', async function () {
    const res = await request(`${url}/metrics`)
    assert.equal(res.status, 200)
    assert.match(res.type, /^text\/plain/)
    const text = res.text
    const names = new Set(text.split('\n').filter(l => l.startsWith('# TYPE ')).map(l => l.split(' ')[2]))
    for (const n of ['ecandle_info', 'ecandle_reports_stored', 'ecandle_peers', 'ecandle_log_head_seq', 'ecandle_last_decided_epoch',
      'ecandle_ingest_entries_total', 'ecandle_sync_total', 'ecandle_agreement_total', 'ecandle_hub_log_total', 'ecandle_gossip_messages_total',
      'ecandle_device_link_total', 'ecandle_devices', 'libp2p_connection_manager_connections', 'gossipsub_mesh_peer_count',
      'gossipsub_accepted_messages_total', 'process_cpu_seconds_total', 'process_resident_memory_bytes']) {
      assert.ok(names.has(n), `${n} is exported`)
    }
    const s = await h1.status()
    const value = (series: string): number => {
      const line = text.split('\n').find(l => l.startsWith(`${series} `))
      assert.ok(line !== undefined, `series ${series}`)
      return Number(line.slice(series.length + 1))
    }
    for (const hub of tn.peerIds) assert.ok(value(`ecandle_log_head_seq{hub="${hub}"}`) >= 1, `head of ${hub}`)
    assert.ok(value('ecandle_reports_stored') > 0)
    assert.ok(value('ecandle_peers') >= 2)
    assert.ok(value('ecandle_last_decided_epoch') >= 0)
    assert.ok(value('ecandle_gossip_messages_total{topic="entries",result="accept",code="ok"}') > 0)
    assert.ok(value('ecandle_devices{state="connected"}') === 2)
    assert.ok(value('gossipsub_mesh_peer_count{topic="entries"}') >= 0)
    assert.ok(s.reports > 0)
    // Topic labels are our short names, never topic strings a peer could choose.
    const topics = [...text.matchAll(/[{,]topic="([^"]*)"/g)].map(m => m[1])
    assert.ok(topics.length > 0)
    assert.deepEqual([...new Set(topics)].filter(t => !['entries', 'evidence', 'consensus', 'certificates', 'governance', 'other'].includes(t)), [])
    assert.ok(!text.includes('topicStr=') && !/\/(entries|evidence|consensus|certificates)\/1"/.test(text), 'no raw topic strings')
    // Nothing secret: not the API token, not the hub's seed, not a device seed.
    const seed = (JSON.parse(await readFile(join(h1.dir, 'hub.key'), 'utf8')) as { seed: string }).seed
    const deviceSeeds = (JSON.parse(await readFile(h1.deviceKeysPath, 'utf8')) as { devices: Array<{ seed: string }> }).devices.map(d => d.seed)
    for (const secret of [token, seed, Buffer.from(seed, 'hex').toString('base64'), ...deviceSeeds]) assert.ok(!text.includes(secret), 'no key material in /metrics')
  })

  it('GET /metrics: the gossip validation queue of every topic (depth, running, drops)', async function () {
    const text = (await request(`${url}/metrics`)).text
    for (const topic of ['entries', 'evidence', 'consensus', 'certificates', 'governance']) {
      for (const series of ['ecandle_gossip_queue_length', 'ecandle_gossip_queue_running', 'ecandle_gossip_queue_dropped_total']) {
        const line = text.split('\n').find(l => l.startsWith(`${series}{topic="${topic}"} `))
        assert.ok(line !== undefined, `${series} of ${topic}`)
        assert.ok(Number(line.split(' ')[1]) >= 0)
      }
    }
  })

  it('401 without a token and with a wrong token on every state-changing route, checked before the body', async function () {
    const doc = (await request(`${url}/docs/json`)).json()
    const writes = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops as object).filter(m => m !== 'get' && m !== 'head').map(m => [m.toUpperCase(), p]))
    assert.deepEqual(writes, [['POST', '/admin/partition'], ['POST', '/gov/submit'], ['POST', '/gov/approve']])
    // No header, a short wrong token, and one of the right length one character off.
    const wrong = [undefined, 'Bearer wrong', `Bearer ${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`]
    for (const [method, path] of writes) {
      for (const auth of wrong) {
        for (const body of ['{"block":[]}', 'not json', '{"block":"x"}']) {
          const res = await request(`${url}${path}`, { method, headers: { 'content-type': 'application/json', ...(auth === undefined ? {} : { authorization: auth }) }, body })
          assert.equal(res.status, 401, `${method} ${path} with ${auth === undefined ? 'no token' : 'a wrong token'} and body ${body}`)
          assert.deepEqual(res.json(), { error: 'unauthorized', message: 'a valid bearer token is required' })
        }
      }
    }
    // And any other non-GET request, even to a route that does not exist.
    assert.equal((await request(`${url}/status`, { method: 'DELETE' })).status, 401)
    // The right token works (blocking a peer that is not there, then healing).
    for (const block of [[strangerPeerId()], []]) {
      const ok = await request(`${url}/admin/partition`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ block }) })
      assert.equal(ok.status, 200, ok.text)
      assert.deepEqual(ok.json(), { blocked: block })
    }
  })

  it('400 naming the field for bad input on every parametrised route; 404 JSON for unknown routes', async function () {
    const hub = tn.peerIds[1]
    const account = tn.net.def.devices[0].capex
    const cases: Array<[path: string, field: RegExp]> = [
      ['/logs/not-a-peer-id', /^params\.hub must match pattern .*peer id/],
      [`/logs/${hub}?limit=0`, /^querystring\.limit must be >= 1/],
      [`/logs/${hub}?limit=257`, /^querystring\.limit must be <= 256/],
      [`/logs/${hub}?from=0`, /^querystring\.from must be >= 1/],
      [`/logs/${hub}?from=abc`, /^querystring\.from must be integer/],
      ['/reports/h1-d001/0', /^params\.counter must be >= 1/],
      ['/reports/h1-d001/abc', /^params\.counter must be integer/],
      ['/reports/no-such-device/1', /^params\.device: unknown device no-such-device/],
      ['/reports/bad%20id/1', /^params\.device must match pattern/],
      ['/epochs?limit=0', /^querystring\.limit must be >= 1/],
      ['/epochs?limit=1001', /^querystring\.limit must be <= 1000/],
      ['/epochs?from=-1', /^querystring\.from must be >= 0/],
      ['/epochs/abc', /^params\.epoch must be integer/],
      ['/epochs/-1', /^params\.epoch must be >= 0/],
      ['/rewards/xyz', /^params\.account must match pattern .*64 lowercase hex/],
      [`/rewards/${account.toUpperCase()}`, /^params\.account must match pattern/],
      [`/rewards/${account}?epoch=-1`, /^querystring\.epoch must be >= 0/],
      [`/rewards/${account}?epoch=1.5`, /^querystring\.epoch must be integer/],
      ['/tally/abc?explain=h1-d001', /^params\.epoch must be integer/],
      ['/tally/0', /^querystring\.explain is required/],
      ['/tally/0?explain=no-such-device', /^querystring\.explain: unknown device no-such-device/]
    ]
    for (const [path, field] of cases) {
      const res = await request(`${url}${path}`)
      assert.equal(res.status, 400, `GET ${path}: ${res.text}`)
      const body = res.json()
      assert.equal(body.error, 'bad-request', `GET ${path}`)
      assert.match(body.message, field, `GET ${path}`)
    }
    const bodies: Array<[body: string | undefined, field: RegExp]> = [
      ['{}', /^body\.block is required/],
      ['{"block":"x"}', /^body\.block must be array/],
      ['{"block":[1]}', /^body\.block\[0\] must be string/],
      ['{"block":[""]}', /^body\.block\[0\] must NOT have fewer than 1 characters/],
      [JSON.stringify({ block: ['x'.repeat(128)] }), /^body\.block\[0\] must NOT have more than 127 characters/],
      ['[]', /^body must be object/],
      ['not json', /^body: .*not valid JSON/],
      [undefined, /^body must be object/]
    ]
    for (const [body, field] of bodies) {
      const headers: Record<string, string> = { authorization: `Bearer ${token}` }
      if (body !== undefined) headers['content-type'] = 'application/json'
      const res = await request(`${url}/admin/partition`, { method: 'POST', headers, body })
      assert.equal(res.status, 400, `POST /admin/partition ${String(body)}: ${res.text}`)
      assert.equal(res.json().error, 'bad-request')
      assert.match(res.json().message, field, `POST /admin/partition ${String(body)}`)
    }
    assert.equal((await h1.status()).peerId, h1.peerId, 'the hub still serves')
    const unknownHub = await request(`${url}/logs/${strangerPeerId()}`)
    assert.equal(unknownHub.status, 404)
    assert.equal(unknownHub.json().error, 'not-found')
    const nope = await request(`${url}/no/such/route`)
    assert.equal(nope.status, 404)
    assert.match(nope.type, /application\/json/)
    assert.deepEqual(nope.json(), { error: 'not-found', message: 'no route GET /no/such/route (see /docs)' })
  })
  it('the contract: every GET route\'s real answers (and error bodies, and /events data) validate against its schema in /docs/json', async function () {
    this.timeout(60_000)
    const doc = (await request(`${url}/docs/json`)).json()
    // OpenAPI 3.1 schema objects are JSON Schema 2020-12; the whole document is one schema, so `$ref`s resolve inside it.
    const ajv = new Ajv2020({ strict: false, allErrors: true })
    ajv.addSchema(doc, 'openapi')
    const pointer = (...parts: string[]): string => 'openapi#/' + parts.map(p => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')
    const checked = new Set<string>()
    const check = async (path: string, concrete: string, status = 200): Promise<any> => {
      const res = await request(`${url}${concrete}`)
      assert.equal(res.status, status, `GET ${concrete}: ${res.text.slice(0, 300)}`)
      assert.match(res.type, /^application\/json/, `GET ${concrete} answers JSON`)
      const validate = ajv.getSchema(pointer('paths', path, 'get', 'responses', String(status), 'content', 'application/json', 'schema'))
      assert.ok(validate !== undefined, `GET ${path} documents its ${status} answer as JSON`)
      const body = res.json()
      assert.ok(validate(body), `GET ${concrete} (${status}) does not match its schema: ${ajv.errorsText(validate.errors)}`)
      if (status === 200) checked.add(path)
      return body
    }
    const device = tn.net.def.devices[0]
    const hub2 = tn.hubs[1].peerId
    const r = await waitFor('a decided epoch with a reward proof', async () => {
      const x = await h1.get<RewardsJson>(`/rewards/${device.capex}`)
      return x.proof !== null ? x : undefined
    }, { timeoutMs: 45_000 })
    await check('/status', '/status')
    await check('/peers', '/peers')
    const devices = await check('/devices', '/devices')
    assert.ok(devices.length > 0)
    const log = await check('/logs/{hub}', `/logs/${hub2}?from=1&limit=5`)
    const withReport = (log as EntryJson[]).find(e => e.reports.length > 0) as EntryJson
    await check('/reports/{device}/{counter}', `/reports/${withReport.reports[0].device}/${withReport.reports[0].counter}`)
    await check('/epochs', '/epochs?from=0&limit=1000')
    await check('/epochs/{epoch}', `/epochs/${r.epoch}`)
    await check('/rewards/{account}', `/rewards/${device.capex}?epoch=${r.epoch}`)
    await check('/rewards/{account}', `/rewards/${'0'.repeat(64)}`) // no leaf: proof null
    // The device need not have reported in the epoch of the proof: explain one in which it did.
    const reported = await waitFor('a decided epoch in which the device has reports', async () => {
      for (const e of (await h1.get<Array<{ epoch: number }>>('/epochs?from=0&limit=1000')).reverse()) {
        if ((await h1.get<{ reports: unknown[] }>(`/tally/${e.epoch}?explain=${device.id}`)).reports.length > 0) return e.epoch
      }
      return undefined
    }, { timeoutMs: 45_000 })
    const ex = await check('/tally/{epoch}', `/tally/${reported}?explain=${device.id}`)
    assert.ok(ex.reports.length > 0, 'an explanation with reports')
    await check('/evidence', '/evidence')
    // Governance: an operation in the pool (a hub-remove needs no signature of its own), and the registry.
    const op = signOperation(tn.net.id, { type: 'hub-remove', exp: 30, hub: hub2 }, {})
    const submitted = await request(`${url}/gov/submit`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ message: Buffer.from(op).toString('base64') }) })
    assert.equal(submitted.status, 200, submitted.text)
    const pool = await check('/gov', '/gov')
    assert.equal(pool.operations.length, 1)
    assert.equal(pool.operations[0].notApprovedBy.length, 3)
    const reg = await check('/registry', '/registry')
    assert.equal(reg.devices.length, tn.net.def.devices.length)
    await check('/registry', '/registry?epoch=0')
    await check('/registry', '/registry?epoch=1000000', 404)
    const health = await check('/health', '/health') // a healthy testnet: nothing red, so 200
    assert.ok(health.checks.length > 0)
    await check('/network', '/network')
    await check('/epochs/{epoch}/rewards', `/epochs/${r.epoch}/rewards`)
    // Error bodies fit their documented schemas too.
    await check('/epochs/{epoch}', `/epochs/${r.epoch + 1_000_000}`, 404)
    await check('/logs/{hub}', `/logs/${hub2}?limit=0`, 400)
    // The two routes that are not JSON: text, and an event stream whose data fits the components' event schemas.
    const metrics = await request(`${url}/metrics`)
    assert.ok(metrics.status === 200 && /^text\/plain/.test(metrics.type) && doc.paths['/metrics'].get.responses['200'].content['text/plain'] !== undefined)
    checked.add('/metrics')
    const seen = new Set<string>()
    for (const ev of tap.events) {
      const name = ({ entry: 'EntryEvent', certificate: 'CertificateEvent', evidence: 'EvidenceEvent' } as Record<string, string>)[ev.event]
      assert.ok(name !== undefined, `event type ${ev.event} is documented`)
      const validate = ajv.getSchema(pointer('components', 'schemas', name))
      assert.ok(validate !== undefined && validate(ev.data), `${ev.event} event ${JSON.stringify(ev.data).slice(0, 200)}: ${ajv.errorsText(validate?.errors)}`)
      seen.add(ev.event)
    }
    assert.ok(seen.has('entry') && seen.has('certificate'), `entry and certificate events checked (saw ${[...seen].join(', ')})`)
    checked.add('/events')
    // Every GET route of the document was exercised: a new route cannot skip this test.
    const gets = Object.entries(doc.paths).filter(([, ops]) => 'get' in (ops as object)).map(([p]) => p).sort()
    assert.deepEqual([...checked].sort(), gets)
  })
})
