import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { gzip as gzipCb } from 'node:zlib'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/**
 * The pages the API serves (built by @ecandle/pages into daemon/pages, shipped with the daemon):
 * the operator dashboard at / (with its hashed /assets/*) and the backer audit page at /audit (one
 * self-contained file, the same bytes a backer saves). All are read once, on the first page
 * request, never from a path a request names; each is gzipped on its first request, off the event
 * loop (the API runs beside device links: long synchronous work would hold up their acks). HTML is revalidated every time (ETag), hashed assets are
 * cached for good; a Content-Security-Policy keeps every page to this hub (the audit page may
 * also dial hubs over WebSockets).
 */
export const PAGES_DIR = fileURLToPath(new URL('../../pages/', import.meta.url))

interface Page { body: Buffer, gzip?: Promise<Buffer>, type: string, etag: string, cache: string, csp: string }

const gzip = promisify(gzipCb)

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2'
}

const DASHBOARD_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/** The inline script and style of the self-contained audit page, allowed by their hashes only. */
function auditCsp (html: string): string {
  const hashes = (re: RegExp): string => [...html.matchAll(re)].map(m => `'sha256-${createHash('sha256').update(m[1]).digest('base64')}'`).join(' ')
  const scripts = hashes(/<script type="module">([\s\S]*?)<\/script>/g)
  const styles = hashes(/<style>([\s\S]*?)<\/style>/g)
  return `default-src 'none'; script-src ${scripts}; style-src ${styles}; img-src data:; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`
}

function page (body: Buffer, name: string, cache: string, csp: string): Page {
  const ext = name.slice(name.lastIndexOf('.'))
  return { body, type: TYPES[ext] ?? 'application/octet-stream', etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`, cache, csp }
}

/** Every page file under `dir` by URL path; empty when the pages were not built. */
export function loadPages (dir = PAGES_DIR): Map<string, Page> {
  const pages = new Map<string, Page>()
  if (!existsSync(join(dir, 'index.html'))) return pages
  pages.set('/', page(readFileSync(join(dir, 'index.html')), 'index.html', 'no-cache', DASHBOARD_CSP))
  if (existsSync(join(dir, 'audit.html'))) {
    const audit = readFileSync(join(dir, 'audit.html'))
    pages.set('/audit', page(audit, 'audit.html', 'no-cache', auditCsp(audit.toString('utf8'))))
  }
  const assets = join(dir, 'assets')
  if (existsSync(assets)) {
    for (const f of readdirSync(assets)) pages.set(`/assets/${f}`, page(readFileSync(join(assets, f)), f, 'public, max-age=31536000, immutable', DASHBOARD_CSP))
  }
  return pages
}

async function send (p: Page, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  reply.header('content-type', p.type).header('cache-control', p.cache).header('etag', p.etag).header('vary', 'accept-encoding')
    .header('content-security-policy', p.csp).header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer')
  if (req.headers['if-none-match'] === p.etag) return await reply.code(304).send()
  if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    p.gzip ??= gzip(p.body, { level: 9 })
    return await reply.header('content-encoding', 'gzip').send(await p.gzip)
  }
  return await reply.send(p.body)
}

/**
 * Registers GET / , /audit and /assets/:file. The files are read on the first page request, so a
 * hub's start does no work for pages nobody opens. Without built pages, / says how to build them.
 */
export function registerPages (app: FastifyInstance, dir = PAGES_DIR): void {
  let loaded: Map<string, Page> | undefined
  const pages = (): Map<string, Page> => (loaded ??= loadPages(dir))
  const hide = { schema: { hide: true } }
  app.get('/', hide, async (req, reply) => {
    const p = pages().get('/')
    if (p === undefined) return await reply.code(503).type('text/plain; charset=utf-8').send('The dashboard is not built: run `npm run build` in the eCandle Mesh checkout (the API itself works: see /docs).\n')
    return await send(p, req, reply)
  })
  app.get('/audit', hide, async (req, reply) => {
    const p = pages().get('/audit')
    if (p === undefined) return await reply.code(503).type('text/plain; charset=utf-8').send('The audit page is not built: run `npm run build` in the eCandle Mesh checkout.\n')
    return await send(p, req, reply)
  })
  app.get<{ Params: { file: string } }>('/assets/:file', hide, async (req, reply) => {
    const p = pages().get(`/assets/${req.params.file}`)
    if (p === undefined) return await reply.code(404).send({ error: 'not-found', message: `no asset ${req.params.file}` })
    return await send(p, req, reply)
  })
}
