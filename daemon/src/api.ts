import Fastify, { type FastifyInstance } from 'fastify'
import { timingSafeEqual } from 'node:crypto'
import { decodeEntry, decodeReport, type DecodedEntry } from '@ecandle/protocol'
import { setBlocked, type Hub } from './hub.js'
import { epochSummary, explainDevice, rewards } from './agreement/queries.js'

/**
 * The hub's local HTTP API. Binds 127.0.0.1 unless told otherwise; anything that changes state
 * needs `Authorization: Bearer <token>` (compared in constant time).
 */
export async function startApi (hub: Hub, opts: { host: string, port: number, token: string }): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 })
  const expected = Buffer.from(opts.token)

  app.addHook('onRequest', async (req, reply) => {
    if (req.method === 'GET' || req.method === 'HEAD') return
    const given = Buffer.from((req.headers.authorization ?? '').replace(/^Bearer /, ''))
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      await reply.code(401).send({ error: 'unauthorized', message: 'a valid bearer token is required' })
    }
  })

  app.get('/status', async () => hub.status())

  app.get('/devices', async () => hub.bridge?.devices() ?? [])

  app.get<{ Params: { hub: string }, Querystring: { from?: string, limit?: string } }>('/logs/:hub', async (req, reply) => {
    const from = Number(req.query.from ?? '1')
    const limit = Number(req.query.limit ?? '20')
    if (!Number.isSafeInteger(from) || from < 1 || !Number.isSafeInteger(limit) || limit < 1 || limit > 256) {
      return await reply.code(400).send({ error: 'bad-request', message: 'from must be ≥ 1 and limit in 1..256' })
    }
    if (!hub.net.hubs.has(req.params.hub)) return await reply.code(404).send({ error: 'not-found', message: 'no such hub in this network' })
    const entries = await hub.store.getEntries(req.params.hub, from, limit)
    return entries.map(b => entryJson(decodeEntry(b)))
  })

  // One report by device and counter: where it is stored (404 if this hub does not hold it).
  app.get<{ Params: { device: string, counter: string } }>('/reports/:device/:counter', async (req, reply) => {
    const counter = Number(req.params.counter)
    const dev = hub.net.devices.get(req.params.device)
    if (dev === undefined || !Number.isSafeInteger(counter) || counter < 1) return await reply.code(400).send({ error: 'bad-request', message: 'unknown device or bad counter' })
    const loc = await hub.store.findReport(req.params.device, counter)
    if (loc === undefined) return await reply.code(404).send({ error: 'not-found', message: 'no such report stored' })
    return { device: req.params.device, counter, hub: dev.info.hub, seq: loc.seq, index: loc.index }
  })

  // Server-Sent Events: every stored entry and evidence. A client that cannot keep up is dropped
  // (bounded memory), and reconnects.
  app.get('/events', (req, reply) => {
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
    res.write(': eCandle hub events\n\n')
    const send = (event: string) => (data: object): void => {
      if (res.writableLength > 1024 * 1024) { res.destroy(); return }
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    }
    const onEntry = send('entry')
    const onEvidence = send('evidence')
    const onCertificate = send('certificate')
    hub.events.on('entry', onEntry)
    hub.events.on('evidence', onEvidence)
    hub.events.on('certificate', onCertificate)
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000)
    req.raw.once('close', () => {
      clearInterval(ping)
      hub.events.off('entry', onEntry)
      hub.events.off('evidence', onEvidence)
      hub.events.off('certificate', onCertificate)
    })
  })

  app.get<{ Querystring: { from?: string, limit?: string } }>('/epochs', async (req, reply) => {
    const last = hub.agreement.lastDecided?.epoch
    const limit = Number(req.query.limit ?? '50')
    const from = Number(req.query.from ?? String(Math.max(0, (last ?? 0) - limit + 1)))
    if (!Number.isSafeInteger(from) || from < 0 || !Number.isSafeInteger(limit) || limit < 1 || limit > 1000) {
      return await reply.code(400).send({ error: 'bad-request', message: 'from must be ≥ 0 and limit in 1..1000' })
    }
    const out = []
    for (let e = from; last !== undefined && e <= last && out.length < limit; e++) {
      const s = await epochSummary(hub.net, hub.agreement, e)
      if (s !== undefined) out.push(s)
    }
    return out
  })

  app.get<{ Params: { epoch: string } }>('/epochs/:epoch', async (req, reply) => {
    const e = Number(req.params.epoch)
    if (!Number.isSafeInteger(e) || e < 0) return await reply.code(400).send({ error: 'bad-request', message: 'epoch must be an integer ≥ 0' })
    const s = await epochSummary(hub.net, hub.agreement, e)
    return s ?? await reply.code(404).send({ error: 'not-found', message: `epoch ${e} is not decided here` })
  })

  app.get<{ Params: { account: string }, Querystring: { epoch?: string } }>('/rewards/:account', async (req, reply) => {
    const e = req.query.epoch === undefined ? undefined : Number(req.query.epoch)
    if (!/^[0-9a-f]{64}$/.test(req.params.account) || (e !== undefined && (!Number.isSafeInteger(e) || e < 0))) {
      return await reply.code(400).send({ error: 'bad-request', message: 'account must be 64 hex characters; epoch an integer ≥ 0' })
    }
    const r = await rewards(hub.net, hub.store, hub.agreement, req.params.account, e)
    return r ?? await reply.code(404).send({ error: 'not-found', message: 'no decided epoch' })
  })

  app.get<{ Params: { epoch: string }, Querystring: { explain?: string } }>('/tally/:epoch', async (req, reply) => {
    const e = Number(req.params.epoch)
    const device = req.query.explain
    if (!Number.isSafeInteger(e) || e < 0 || device === undefined || !hub.net.devices.has(device)) {
      return await reply.code(400).send({ error: 'bad-request', message: 'epoch must be an integer ≥ 0 and ?explain= a registered device' })
    }
    const r = await explainDevice(hub.net, hub.store, hub.agreement, e, device)
    return r ?? await reply.code(404).send({ error: 'not-found', message: `epoch ${e} is not decided here` })
  })

  // Test and operations aid: refuse to talk to the given peers (a network partition). Token required.
  app.post<{ Body: { block?: unknown } }>('/admin/partition', async (req, reply) => {
    const block = req.body?.block
    if (!Array.isArray(block) || !block.every(p => typeof p === 'string' && p.length < 128)) {
      return await reply.code(400).send({ error: 'bad-request', message: 'body must be { "block": ["<peer id>", …] }' })
    }
    await setBlocked(hub, block)
    return { blocked: [...hub.blocked] }
  })

  app.get('/evidence', async () => (await hub.store.listEvidence(100)).map(b => Buffer.from(b).toString('base64')))

  await app.listen({ host: opts.host, port: opts.port })
  return app
}

export function entryJson (e: DecodedEntry): object {
  const p = e.payload
  return {
    id: e.id.toString(),
    hub: p.hub,
    seq: p.seq,
    prev: p.prev?.toString() ?? null,
    epoch: p.epoch,
    time: p.time,
    reports: p.reports.map(r => {
      const d = decodeReport(r)
      return { id: d.id, ...d.report }
    })
  }
}
