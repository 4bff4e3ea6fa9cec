import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { componentSchemas, entryJson, FIELD_HINTS, openapiInfo, openapiTags, routes, type EpochSummary } from '@ecandle/api'
import { decodeEntry, decodeReport } from '@ecandle/protocol'
import { setBlocked, type Hub } from './hub.js'
import { epochRewards, epochSummary, explainDevice, rewards } from './agreement/queries.js'
import { createHubMetrics } from './metrics.js'
import { hubHealth } from './health.js'
import { isLoopback } from './loopback.js'
import { registerPages } from './pages.js'
import { registerGovernanceRoutes } from './gov-api.js'
import { EventStreams } from './event-stream.js'

/**
 * The hub's local HTTP API. Binds 127.0.0.1 unless told otherwise; anything that changes state
 * needs `Authorization: Bearer <token>` (compared in constant time). Every route is one of the
 * contract (`routes` of @ecandle/api): fastify validates its input and serialises its answer with
 * the route's schemas (a field outside the schema is never sent; a missing one is a 500), the
 * handlers are typed by them, and /docs documents them.
 */
export { isLoopback }

export async function startApi (hub: Hub, opts: { host: string, port: number, token: string }): Promise<FastifyInstance> {
  // A request must arrive whole within 10 s (slow senders hold no socket for long); at most 1024 sockets.
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024, requestTimeout: 10_000, connectionTimeout: 0 }).withTypeProvider<TypeBoxTypeProvider>()
  app.server.maxConnections = 1024
  const expected = Buffer.from(opts.token)

  // In onRequest, so a request without the token is refused before its body is even parsed.
  app.addHook('onRequest', async (req, reply) => {
    if (req.method === 'GET' || req.method === 'HEAD') return
    const given = Buffer.from((req.headers.authorization ?? '').replace(/^Bearer /, ''))
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      await reply.code(401).send({ error: 'unauthorized', message: 'a valid bearer token is required' })
    }
  })

  // ajv coerces types (query strings must become integers), but a JSON body has real types:
  // { "block": "x" } is a bad body, not ["x"]. Checked before ajv sees (and coerces) it.
  app.addHook('preValidation', async (req, reply) => {
    const schema = req.routeOptions.schema?.body
    if (schema === undefined || req.body === undefined) return
    const bad = typeMismatch(schema, req.body, 'body')
    if (bad !== undefined) await reply.code(400).send({ error: 'bad-request', message: `${bad}; ${FIELD_HINTS.body}` })
  })

  app.setErrorHandler(async (err: FastifyError, _req, reply) => {
    if (err.validation !== undefined) return await reply.code(400).send({ error: 'bad-request', message: validationMessage(err) })
    const code = err.statusCode ?? 500
    if (code >= 500) {
      // Also an answer that does not fit its route's response schema: the contract test catches those.
      hub.log.warn({ err: String(err.stack ?? err) }, 'API request failed')
      return await reply.code(500).send({ error: 'internal', message: 'internal error (see the hub log)' })
    }
    const names: Record<number, string> = { 400: 'bad-request', 404: 'not-found', 413: 'too-large', 415: 'unsupported-media-type' }
    return await reply.code(code).send({ error: names[code] ?? 'error', message: code === 400 ? `body: ${err.message}` : err.message })
  })

  app.setNotFoundHandler(async (req, reply) => {
    return await reply.code(404).send({ error: 'not-found', message: `no route ${req.method} ${req.url.split('?')[0]} (see /docs)` })
  })

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { ...openapiInfo, version: packageVersion() },
      tags: openapiTags,
      components: {
        schemas: componentSchemas,
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'The token in `<data-dir>/api.token` (mode 0600). Needed by every request that is not GET or HEAD.' }
        }
      }
    }
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })

  app.get(routes.status.url, { schema: routes.status.schema }, async () => hub.status())

  // For container health checks and monitoring: 503 when a check is red (body as with 200).
  app.get(routes.health.url, { schema: routes.health.schema }, async (_req, reply) => {
    const report = await hubHealth(hub)
    return await reply.code(report.status === 'red' ? 503 : 200).send(report)
  })

  app.get(routes.peers.url, { schema: routes.peers.schema }, async () => hub.peers())

  app.get(routes.devices.url, { schema: routes.devices.schema }, async () => hub.bridge?.devices() ?? [])

  app.get(routes.logs.url, { schema: routes.logs.schema }, async (req, reply) => {
    if (!hub.chain.latest.hubs.has(req.params.hub)) return await reply.code(404).send({ error: 'not-found', message: `no hub ${req.params.hub} in this network` })
    // from and limit have defaults in the schema: ajv has filled them in.
    const entries = await hub.store.getEntries(req.params.hub, req.query.from!, req.query.limit!)
    return entries.map(b => {
      const e = decodeEntry(b)
      return entryJson(e, e.payload.reports.map(decodeReport))
    })
  })

  // One report by device and counter: where it is stored (404 if this hub does not hold it).
  app.get(routes.report.url, { schema: routes.report.schema }, async (req, reply) => {
    const { device, counter } = req.params
    const dev = hub.chain.latest.registry.devices.get(device)
    if (dev === undefined) return await reply.code(400).send({ error: 'bad-request', message: `params.device: unknown device ${device} (not registered in this network)` })
    const loc = await hub.store.findReport(device, counter)
    if (loc === undefined) return await reply.code(404).send({ error: 'not-found', message: `no report ${device}:${counter} stored here` })
    return { device, counter, hub: dev.hub, seq: loc.seq, index: loc.index }
  })

  // Server-Sent Events: every stored entry, evidence and certificate. A client that cannot keep up
  // is dropped (bounded memory: 64 KiB waiting), and reconnects; at most 256 clients at once.
  const streams = new EventStreams(hub.events, { maxClients: 256, maxBufferedBytes: 64 * 1024, pingMs: 15_000 })
  app.addHook('onClose', async () => { streams.close() })
  app.get(routes.events.url, { schema: routes.events.schema }, (_req, reply) => {
    reply.hijack()
    streams.open(reply.raw)
  })

  app.get(routes.epochs.url, { schema: routes.epochs.schema }, async (req) => {
    const last = hub.agreement.lastDecided?.epoch
    const limit = req.query.limit! // the schema's default is filled in
    const from = req.query.from ?? Math.max(0, (last ?? 0) - limit + 1)
    const out: EpochSummary[] = []
    for (let e = from; last !== undefined && e <= last && out.length < limit; e++) {
      const s = await epochSummary(hub.net, hub.agreement, e)
      if (s !== undefined) out.push(s)
    }
    return out
  })

  app.get(routes.epoch.url, { schema: routes.epoch.schema }, async (req, reply) => {
    const e = req.params.epoch
    const s = await epochSummary(hub.net, hub.agreement, e)
    return s ?? await reply.code(404).send({ error: 'not-found', message: `epoch ${e} is not decided here` })
  })

  app.get(routes.network.url, { schema: routes.network.schema }, async () => ({ id: hub.net.id, definition: hub.net.def }))

  app.get(routes.epochRewards.url, { schema: routes.epochRewards.schema }, async (req, reply) => {
    const r = await epochRewards(hub.agreement, req.params.epoch)
    return r ?? await reply.code(404).send({ error: 'not-found', message: `epoch ${req.params.epoch} is not decided here` })
  })

  app.get(routes.rewards.url, { schema: routes.rewards.schema }, async (req, reply) => {
    const r = await rewards(hub.agreement, req.params.account, req.query.epoch)
    return r ?? await reply.code(404).send({ error: 'not-found', message: req.query.epoch === undefined ? 'no decided epoch' : `epoch ${req.query.epoch} is not decided here` })
  })

  app.get(routes.tally.url, { schema: routes.tally.schema }, async (req, reply) => {
    const e = req.params.epoch
    const device = req.query.explain
    if (!hub.chain.latest.registry.devices.has(device)) return await reply.code(400).send({ error: 'bad-request', message: `querystring.explain: unknown device ${device} (not registered in this network)` })
    const r = await explainDevice(hub.net, hub.store, hub.agreement, e, device)
    return r ?? await reply.code(404).send({ error: 'not-found', message: `epoch ${e} is not decided here` })
  })

  // Test and operations aid: refuse to talk to the given peers (a network partition). Token required.
  app.post(routes.partition.url, { schema: routes.partition.schema }, async (req) => {
    await setBlocked(hub, req.body.block)
    return { blocked: [...hub.blocked] }
  })

  registerGovernanceRoutes(app, hub)

  app.get(routes.evidence.url, { schema: routes.evidence.schema }, async () => (await hub.store.listEvidence(100)).map(b => Buffer.from(b).toString('base64')))

  // No token: metrics hold counts and peer ids, never keys or the token.
  const registry = createHubMetrics(hub, streams)
  app.get(routes.metrics.url, { schema: routes.metrics.schema }, async (_req, reply) => {
    const text = await registry.metrics()
    return await reply.type(registry.contentType).send(text)
  })

  // The operator dashboard (/), the backer audit page (/audit) and their assets.
  registerPages(app)

  await app.listen({ host: opts.host, port: opts.port })
  if (!isLoopback(opts.host)) {
    hub.log.warn({ host: opts.host }, 'the API listens on a non-loopback address: anyone who can reach it reads this hub\'s data (admin routes still need the token); prefer 127.0.0.1 behind a reverse proxy')
  }
  return app
}

/** `params.account must match pattern …; an account is 64 lowercase hex characters`. */
function validationMessage (err: FastifyError): string {
  const v = err.validation?.[0]
  const where = err.validationContext ?? 'request'
  if (v === undefined) return err.message
  const missing = v.keyword === 'required' ? String((v.params as { missingProperty?: string }).missingProperty ?? '') : ''
  const path = v.instancePath.slice(1).replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.')
  const field = missing !== '' ? (path === '' ? missing : `${path}.${missing}`) : path
  const name = field === '' ? where : `${where}.${field}`
  const what = missing !== '' ? 'is required' : v.message ?? 'is invalid'
  const hint = FIELD_HINTS[field.split(/[.[]/)[0]] ?? (where === 'body' ? FIELD_HINTS.body : undefined)
  return `${name} ${what}${hint === undefined ? '' : `; ${hint}`}`
}

/** The first place where `value` is not of the JSON type its schema names (`body.block[0] must be string`). */
function typeMismatch (schema: any, value: unknown, path: string): string | undefined {
  if (typeof schema !== 'object' || schema === null) return undefined
  const types: string[] = schema.type === undefined ? [] : [schema.type].flat()
  const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value
  const ok = types.length === 0 || types.some(t => t === actual || (t === 'integer' && Number.isInteger(value)))
  if (!ok) return `${path} must be ${types.join(' or ')}`
  if (actual === 'array' && schema.items !== undefined) {
    for (const [i, x] of (value as unknown[]).entries()) {
      const bad = typeMismatch(schema.items, x, `${path}[${i}]`)
      if (bad !== undefined) return bad
    }
  }
  if (actual === 'object' && schema.properties !== undefined) {
    for (const [k, sub] of Object.entries(schema.properties)) {
      const x = (value as Record<string, unknown>)[k]
      const bad = x === undefined ? undefined : typeMismatch(sub, x, `${path}.${k}`)
      if (bad !== undefined) return bad
    }
  }
  return undefined
}

function packageVersion (): string {
  try {
    return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version
  } catch {
    return '0.0.0'
  }
}
