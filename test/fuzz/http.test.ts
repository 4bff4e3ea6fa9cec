import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request as httpRequest } from 'node:http'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { createNetwork, Hub, loadConfig, loadNetwork, readApiToken, readHubKey, startApi } from '@ecandle/daemon'
import { RUNS } from './inputs.js'

/**
 * The hub's HTTP API fuzzed in process (a real Hub: LevelDB, libp2p, its own log; requests over real
 * HTTP on 127.0.0.1, the path sent as it is but for bytes HTTP cannot carry raw): every route with random methods, parameters, query strings, headers and bodies,
 * with and without the token. No answer may be a 5xx, every answer must be JSON (but /metrics, /docs,
 * /events and the pages), and the hub must go on answering.
 */
describe(`fuzz: HTTP API (${RUNS} requests)`, function () {
  this.timeout(0)
  let dir: string
  let hub: Hub
  let app: FastifyInstance
  let token: string
  let base: URL
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })

  /** One request; the path's bytes outside printable ASCII are percent-encoded (HTTP/1.1 cannot carry them raw). */
  const send = async (method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ statusCode: number, headers: Record<string, unknown>, body: string }> => {
    const raw = path.replace(/[^\x21-\x7e]/gu, c => [...Buffer.from(c, 'utf8')].map(b => '%' + b.toString(16).padStart(2, '0')).join(''))
    const once = async (): Promise<{ statusCode: number, headers: Record<string, unknown>, body: string, reused: boolean }> => await new Promise((resolve, reject) => {
      const req = httpRequest({ agent, host: base.hostname, port: Number(base.port), method, path: raw, headers }, res => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => { resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), reused: req.reusedSocket }) })
        res.on('error', reject)
      })
      req.on('error', err => { Object.assign(err, { reused: req.reusedSocket }); reject(err) })
      req.end(body === undefined ? undefined : Buffer.from(body, 'latin1'))
    })
    try {
      return await once()
    } catch (err: any) {
      // A kept-alive socket the server closed after its last answer (it may, e.g. after refusing a
      // request whose body it did not read): Node's documented case for one retry on a new socket.
      if (err?.reused !== true) throw err
      return await once()
    }
  }

  before(async function () {
    this.timeout(60_000)
    dir = await mkdtemp(join(tmpdir(), 'ecandle-fuzz-http-'))
    const created = await createNetwork({ dir, hubs: 1, devicesPerHub: 2, host: '127.0.0.1', epochLengthS: 5, gracePeriodS: 1, reportIntervalS: 1, entryIntervalMs: 500 })
    const config = await loadConfig(created.hubDirs[0], { listen: ['/ip4/127.0.0.1/tcp/0'] }, {})
    config.emulator = undefined
    hub = new Hub(await loadNetwork(config.networkPath), await readHubKey(config.keyPath), config, pino({ level: 'silent' }))
    await hub.start()
    token = await readApiToken(config.tokenPath)
    app = await startApi(hub, { host: '127.0.0.1', port: 0, token })
    const addr = app.server.address()
    if (addr === null || typeof addr === 'string') throw new Error('API not listening on TCP')
    base = new URL(`http://127.0.0.1:${addr.port}`)
  })
  after(async () => {
    agent.destroy()
    await app?.close()
    await hub?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('answers anything with a 2xx/4xx, never a 5xx, and keeps answering', async () => {
    const seg = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom(hub.peerId, 'h1-d001', '0', '1', '-1', '99999999999999999999', 'a'.repeat(64), '%00', '..', '%ZZ'), fc.nat().map(String))
    const path = fc.oneof(
      fc.constantFrom('/status', '/peers', '/devices', '/evidence', '/epochs', '/metrics', '/admin/partition', '/nope', '/'),
      fc.tuple(fc.constantFrom('/logs/', '/epochs/', '/rewards/', '/tally/', '/reports/', '/reports/h1-d001/'), seg).map(([a, b]) => a + encodeURIComponent(b)),
      fc.array(seg, { maxLength: 4 }).map(xs => '/' + xs.join('/'))
    )
    const query = fc.dictionary(fc.constantFrom('from', 'limit', 'epoch', 'explain', 'x'), fc.oneof(seg, fc.integer().map(String)), { maxKeys: 3 })
      .map(q => Object.keys(q).length === 0 ? '' : '?' + new URLSearchParams(q).toString())
    const body = fc.oneof(
      fc.constant(undefined),
      fc.string({ maxLength: 200 }),
      fc.json({ maxDepth: 3 }),
      fc.record({ block: fc.oneof(fc.array(fc.oneof(fc.string(), fc.constant(hub.peerId), fc.integer()), { maxLength: 5 }), fc.string(), fc.integer(), fc.constant(null)) }).map(x => JSON.stringify(x)),
      fc.uint8Array({ maxLength: 300 }).map(b => Buffer.from(b).toString('latin1'))
    )
    const request = fc.record({
      method: fc.constantFrom('GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH'),
      url: fc.tuple(path, query).map(([p, q]) => p + q),
      body,
      type: fc.constantFrom('application/json', 'text/plain', 'application/octet-stream', 'application/x-www-form-urlencoded', '', 'application/json; charset=latin1'),
      auth: fc.oneof(fc.constant('good'), fc.constant('none'), fc.string({ maxLength: 70 }))
    })
    let n = 0
    await fc.assert(fc.asyncProperty(request, async r => {
      // Partitions would cut the hub off from nothing (it is alone); still, keep them empty.
      const isPartition = r.method === 'POST' && r.url.startsWith('/admin/partition') && r.auth === 'good'
      const headers: Record<string, string> = {}
      if (r.type !== '') headers['content-type'] = r.type
      if (r.auth === 'good') headers.authorization = `Bearer ${isPartition ? 'x' : token}`
      else if (r.auth !== 'none') headers.authorization = r.auth
      // GET and HEAD carry no body (HTTP gives it no meaning; fetch refuses to send one).
      const res = await send(r.method, r.url.startsWith('/events') ? '/status' : r.url, headers, r.method === 'GET' || r.method === 'HEAD' ? undefined : r.body)
      n++
      assert.ok(res.statusCode < 500, `${r.method} ${r.url} → ${res.statusCode} ${res.body.slice(0, 300)}`)
      const ct = String(res.headers['content-type'] ?? '')
      // The pages (/, /audit, /assets/…) are HTML and their assets; every other answer is JSON.
      const path = r.url.split(/[?#]/)[0]
      const page = res.statusCode === 200 && (path === '/' || path === '/audit' || path.startsWith('/assets/'))
      if (res.statusCode !== 204 && r.method !== 'HEAD' && !page && !r.url.startsWith('/metrics') && !r.url.startsWith('/docs') && res.body.length > 0) {
        assert.ok(ct.includes('json'), `${r.method} ${r.url} → ${res.statusCode} with content-type ${ct}`)
        JSON.parse(res.body)
      }
    }), { numRuns: RUNS })
    const s = await send('GET', '/status', {})
    assert.equal(s.statusCode, 200)
    assert.ok(n >= RUNS)
  })
})
