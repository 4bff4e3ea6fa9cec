import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { HubApiError, HubClient, ValidationError, type HubEvent } from '../src/index.js'
import { ACCOUNT, decidedEpoch, flip, net } from './fixtures.js'

/** A stand-in hub API on 127.0.0.1: each test sets the routes it needs. */
type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => void
const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

describe('HubClient', () => {
  let server: Server
  let base: string
  let routes: Record<string, Route> = {}
  let seen: IncomingMessage[] = []

  before(async () => {
    server = createServer((req, res) => {
      seen.push(req)
      const url = new URL(req.url ?? '/', 'http://x')
      const route = routes[`${req.method ?? 'GET'} ${decodeURIComponent(url.pathname)}`]
      if (route === undefined) json(res, 404, { error: 'not-found', message: `no route ${url.pathname}` })
      else route(req, res, url)
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  })
  beforeEach(() => { routes = {}; seen = [] })
  after(async () => {
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  })

  it('GETs typed JSON with query parameters and path segments encoded', async () => {
    routes['GET /logs/hub a'] = (_req, res, url) => json(res, 200, [{ from: url.searchParams.get('from'), limit: url.searchParams.get('limit') }])
    const c = new HubClient(base)
    assert.deepEqual(await c.log('hub a', { from: 3, limit: 7 }), [{ from: '3', limit: '7' }])
    assert.equal(seen[0].url, '/logs/hub%20a?from=3&limit=7')
    routes['GET /epochs'] = (_req, res, url) => json(res, 200, [...url.searchParams.keys()])
    assert.deepEqual(await c.epochs(), [], 'absent options are not sent')
  })

  it('health(): a red check answers 503 with the same report, returned like a 200; other failures still throw', async () => {
    const report = (status: string): unknown => ({ status, checks: [{ check: 'disk', level: status, message: 'x' }] })
    routes['GET /health'] = (_req, res) => json(res, 503, report('red'))
    const c = new HubClient(base)
    assert.deepEqual(await c.health(), report('red'))
    routes['GET /health'] = (_req, res) => json(res, 200, report('green'))
    assert.deepEqual(await c.health(), report('green'))
    routes['GET /health'] = (_req, res) => json(res, 500, { error: 'internal', message: 'boom' })
    await assert.rejects(c.health(), { status: 500, code: 'internal' })
    routes['GET /status'] = (_req, res) => json(res, 503, { error: 'unavailable', message: 'x' })
    await assert.rejects(c.status(), { status: 503 }, 'only health reads a 503 as its answer')
  })

  it('turns non-2xx answers into HubApiError with the server\'s status, code and message', async () => {
    routes['GET /tally/1'] = (_req, res) => json(res, 400, { error: 'bad-request', message: 'epoch must be an integer ≥ 0 and ?explain= a registered device' })
    routes['GET /metrics'] = (_req, res) => { res.writeHead(500); res.end('boom') }
    const c = new HubClient(base)
    await assert.rejects(c.explain(1, 'nope'), (err: unknown) => {
      assert.ok(err instanceof HubApiError)
      assert.equal(err.status, 400)
      assert.equal(err.code, 'bad-request')
      assert.match(err.serverMessage, /explain/)
      assert.match(err.message, /^GET \/tally\/1: HTTP 400/)
      return true
    })
    await assert.rejects(c.epoch(5), { name: 'HubApiError', status: 404, code: 'not-found' })
    await assert.rejects(c.metrics(), { status: 500, code: 'http-500', serverMessage: 'boom' })
  })

  it('sends the bearer token; without one the hub\'s 401 comes back as HubApiError', async () => {
    routes['POST /admin/partition'] = (req, res) => {
      if (req.headers.authorization !== 'Bearer s3cret') { json(res, 401, { error: 'unauthorized', message: 'a valid bearer token is required' }); return }
      let body = ''
      req.on('data', d => { body += String(d) }).on('end', () => json(res, 200, { blocked: JSON.parse(body).block }))
    }
    assert.deepEqual(await new HubClient(base, { token: 's3cret' }).partition(['p1']), { blocked: ['p1'] })
    await assert.rejects(new HubClient(base).partition(['p1']), { status: 401, code: 'unauthorized' })
  })

  it('times out (status 0, code timeout) and reports an unreachable hub (code unreachable)', async () => {
    routes['GET /status'] = () => {} // never answers
    await assert.rejects(new HubClient(base, { timeoutMs: 100 }).status(), { status: 0, code: 'timeout' })
    const ctl = new AbortController()
    setTimeout(() => ctl.abort(new Error('user stop')), 50)
    await assert.rejects(new HubClient(base).status({ signal: ctl.signal }), /user stop/)
    const closed = createServer()
    await new Promise<void>(resolve => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise(resolve => closed.close(resolve))
    await assert.rejects(new HubClient(`http://127.0.0.1:${port}`).status(), { status: 0, code: 'unreachable' })
  })

  it('events(): parses the SSE stream across odd chunk boundaries, skips comments, closes on break', async () => {
    let closed!: () => void
    const gone = new Promise<void>(resolve => { closed = resolve })
    routes['GET /events'] = (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      const text = ': eCandle hub events\n\nevent: entry\ndata: {"hub":"h","seq":1,"reports":2}\n\n: ping\n\nevent: unknown\ndata: 1\n\nevent: certificate\ndata: {"epoch":4,\ndata: "valueId":"v"}\n\n'
      // Awkward chunks: inside a field name, inside the data, between the two LFs.
      for (const cut of [[0, 30], [30, 47], [47, 70], [70, 71], [71, text.length]]) res.write(text.slice(cut[0], cut[1]))
      req.once('close', closed)
    }
    const got: HubEvent[] = []
    for await (const ev of new HubClient(base).events()) {
      got.push(ev)
      if (got.length === 2) break
    }
    assert.deepEqual(got, [{ type: 'entry', data: { hub: 'h', seq: 1, reports: 2 } }, { type: 'certificate', data: { epoch: 4, valueId: 'v' } }])
    await gone // the connection was closed when the loop ended
  })

  it('events(): an abort ends the iteration quietly', async () => {
    routes['GET /events'] = (_req, res) => { res.writeHead(200, { 'content-type': 'text/event-stream' }); res.write('event: entry\ndata: {}\n\n') }
    const ctl = new AbortController()
    const got: HubEvent[] = []
    for await (const ev of new HubClient(base).events({ signal: ctl.signal })) {
      got.push(ev)
      ctl.abort()
    }
    assert.equal(got.length, 1)
  })

  describe('verifiedRewards', () => {
    const d = decidedEpoch()
    const serve = (summary = d.summary, rewards: unknown = d.rewards): void => {
      routes['GET /epochs/0'] = (_req, res) => json(res, 200, summary)
      routes[`GET /rewards/${ACCOUNT}`] = (_req, res) => json(res, 200, rewards)
    }
    const client = (): HubClient => new HubClient(base, { network: net })
    const rejectsWith = async (p: Promise<unknown>, code: string): Promise<void> => {
      await assert.rejects(p, (err: unknown) => err instanceof ValidationError && err.code === code)
    }

    it('returns amounts proven against the certified root', async () => {
      serve()
      const r = await client().verifiedRewards(ACCOUNT, { epoch: 0 })
      assert.equal(r.epoch, 0)
      assert.equal(r.root, d.value.root)
      assert.equal(r.cumulative, BigInt(d.rewards.cumulative))
      assert.equal(r.amount, BigInt(d.rewards.epochAmount))
      assert.equal(r.signers.length, 2)
    })

    it('refuses a tampered proof, a certificate without a quorum of valid signatures, and a hub that lies', async () => {
      serve(d.summary, { ...d.rewards, proof: { ...d.proof, path: d.proof.path.map((s, i) => i === 0 ? { ...s, hash: 'ab'.repeat(32) } : s) } })
      await rejectsWith(client().verifiedRewards(ACCOUNT, { epoch: 0 }), 'proof-invalid')
      // The hub builds a proof against a root of its own and serves it in the summary: the certificate disagrees.
      serve({ ...d.summary, root: 'cd'.repeat(32) })
      await rejectsWith(client().verifiedRewards(ACCOUNT, { epoch: 0 }), 'summary-mismatch')
      serve({ ...d.summary, certificate: Buffer.from(flip(d.certificate, -1)).toString('base64') })
      await rejectsWith(client().verifiedRewards(ACCOUNT, { epoch: 0 }), 'certificate-signature')
      serve(d.summary, { ...d.rewards, cumulative: String(BigInt(d.rewards.cumulative) + 1n) })
      await rejectsWith(client().verifiedRewards(ACCOUNT, { epoch: 0 }), 'rewards-mismatch')
      serve(d.summary, { ...d.rewards, proof: null })
      await rejectsWith(client().verifiedRewards(ACCOUNT, { epoch: 0 }), 'no-proof')
    })

    it('needs the network', async () => {
      serve()
      await assert.rejects(new HubClient(base).verifiedRewards(ACCOUNT), /needs the network/)
    })
  })
})
