import Fastify, { type FastifyInstance } from 'fastify'
import { timingSafeEqual } from 'node:crypto'
import { decodeEntry, decodeReport, type DecodedEntry } from '@ecandle/protocol'
import type { Hub } from './hub.js'

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
