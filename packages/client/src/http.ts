import { reject, type Network } from '@ecandle/protocol'
import { routePath, routes, type ApiErrorBody, type HubEvent, type HubEventMap, type Reply, type RouteName } from '@ecandle/api'
import { verifyEpochSummary, verifyRewardProof, type CertificateMessage } from './decode.js'
import { SseParser } from './sse.js'

/**
 * Typed client of a hub's local HTTP API (README "The local API"): every method is one route of the
 * contract (`routes` of @ecandle/api) and returns that route's type. Answers are the hub's word:
 * use `verifiedEpoch` and `verifiedRewards`, which check the certificate and Merkle proof against
 * the network file, wherever the numbers matter.
 */

/**
 * A request that did not succeed. `status` is the HTTP status (0: no answer — `code` 'timeout' or
 * 'unreachable'); `code` and `message` are the server's `{ error, message }` when it sent one.
 */
export class HubApiError extends Error {
  override name = 'HubApiError'
  constructor (readonly status: number, readonly code: string, message: string, readonly method: string, readonly path: string) {
    super(`${method} ${path}: ${status === 0 ? code : `HTTP ${status}`}: ${message}`)
    this.serverMessage = message
  }

  /** The server's message alone (or the transport error's). */
  readonly serverMessage: string
}

export interface HubClientOptions {
  /** Bearer token (`<data-dir>/api.token`); needed only for POST /admin/*. */
  token?: string
  /** Per-request timeout (default 10 s). For events(), the time to get the stream's headers. */
  timeoutMs?: number
  /** The network file you trust: needed by verifiedEpoch and verifiedRewards. */
  network?: Network
  /** A fetch implementation (default: global fetch). */
  fetch?: typeof fetch
}

export interface CallOptions {
  signal?: AbortSignal
  timeoutMs?: number
}

/** A reward whose amounts were proven against a root that a quorum of validators certified. */
export interface VerifiedRewards {
  account: string
  epoch: number
  amount: bigint
  cumulative: bigint
  /** The certified tally root the proof was checked against. */
  root: string
  valueId: string
  /** Validators whose signatures on the certificate verified. */
  signers: string[]
}

type Query = Record<string, string | number | undefined>

const EVENT_TYPES = new Set<string>(['entry', 'certificate', 'evidence'] satisfies Array<keyof HubEventMap>)

export class HubClient {
  readonly baseUrl: string
  private readonly opts: HubClientOptions
  private readonly fetchFn: typeof fetch

  /** `baseUrl`: the hub's API address, e.g. the `url` of `<data-dir>/api.json`. */
  constructor (baseUrl: string, opts: HubClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '')
    this.opts = opts
    // Browsers refuse fetch called with another `this` ("Illegal invocation").
    this.fetchFn = opts.fetch ?? ((input, init) => globalThis.fetch(input, init))
  }

  /** A client for the hub running from `dataDir` (reads api.json and api.token, as the CLI does). */
  static async fromDataDir (dataDir: string, opts: HubClientOptions = {}): Promise<HubClient> {
    // Imported here, so the rest of the client runs in browsers (a bundler leaves node: imports out).
    const { readFile } = await import('node:fs/promises')
    const { join } = await import('node:path')
    const { url } = JSON.parse(await readFile(join(dataDir, 'api.json'), 'utf8')) as { url: string }
    let token = opts.token
    if (token === undefined) {
      try { token = (await readFile(join(dataDir, 'api.token'), 'utf8')).trim() } catch {}
    }
    return new HubClient(url, { ...opts, token })
  }

  async status (o?: CallOptions): Promise<Reply<'status'>> { return await this.call('status', {}, {}, o) }

  /** The hub's checks (as `ecandle doctor`). A red check makes the hub answer HTTP 503 with the same body: returned too. */
  async health (o?: CallOptions): Promise<Reply<'health'>> { return await this.call('health', {}, {}, o, undefined, [503]) }

  /** Connected peers. */
  async peers (o?: CallOptions): Promise<Reply<'peers'>> { return await this.call('peers', {}, {}, o) }

  /** Devices linked to this hub, with their last report and refusals. */
  async devices (o?: CallOptions): Promise<Reply<'devices'>> { return await this.call('devices', {}, {}, o) }

  /** Entries of `hub`'s log from seq `from` (default 1), at most `limit` (1..256, default 20). */
  async log (hub: string, q: { from?: number, limit?: number } = {}, o?: CallOptions): Promise<Reply<'logs'>> {
    return await this.call('logs', { hub }, { from: q.from, limit: q.limit }, o)
  }

  /** Where the report (device, counter) is stored. 404 if this hub does not hold it. */
  async report (device: string, counter: number, o?: CallOptions): Promise<Reply<'report'>> {
    return await this.call('report', { device, counter }, {}, o)
  }

  /** Decided epochs from `from`, at most `limit` (default: the last 50). */
  async epochs (q: { from?: number, limit?: number } = {}, o?: CallOptions): Promise<Reply<'epochs'>> {
    return await this.call('epochs', {}, { from: q.from, limit: q.limit }, o)
  }

  /** One decided epoch (404 if not decided on this hub). */
  async epoch (epoch: number, o?: CallOptions): Promise<Reply<'epoch'>> {
    return await this.call('epoch', { epoch }, {}, o)
  }

  /** Epoch `epoch`'s certificate, verified against the network (and the summary checked against it). */
  async verifiedEpoch (epoch: number, o?: CallOptions): Promise<CertificateMessage> {
    const net = this.network('verifiedEpoch')
    const c = verifyEpochSummary(net, await this.epoch(epoch, o))
    if (c.epoch !== epoch) throw reject('summary-mismatch', `asked for epoch ${epoch}, the hub served a certificate of epoch ${c.epoch}`)
    return c
  }

  /** Every account's and device's reward in a decided epoch, as the hub decided it (404 if not decided here). */
  async epochRewards (epoch: number, o?: CallOptions): Promise<Reply<'epochRewards'>> {
    return await this.call('epochRewards', { epoch }, {}, o)
  }

  /** The network the hub runs (its definition, as in the network file). The hub's word: an auditor brings its own file. */
  async networkDefinition (o?: CallOptions): Promise<Reply<'network'>> { return await this.call('network', {}, {}, o) }

  /** An account's reward in `epoch` (default: the last decided) with its Merkle proof, as the hub says. */
  async rewards (account: string, q: { epoch?: number } = {}, o?: CallOptions): Promise<Reply<'rewards'>> {
    return await this.call('rewards', { account }, { epoch: q.epoch }, o)
  }

  /**
   * The reward of `account` in `epoch` (default: the hub's last decided), proven: the epoch's
   * certificate must carry a quorum of valid validator signatures (against `options.network`), and the
   * proof must hash to the root it certifies. Throws the protocol's ValidationError (codes
   * `certificate-signature`, `too-few-signers`, `summary-mismatch`, `no-proof`, `proof-invalid`,
   * `proof-account`, `rewards-mismatch`) when anything does not check out.
   */
  async verifiedRewards (account: string, q: { epoch?: number } = {}, o?: CallOptions): Promise<VerifiedRewards> {
    this.network('verifiedRewards') // fail before any request when the network is missing
    const r = await this.rewards(account, q, o)
    const epoch = q.epoch ?? r.epoch
    if (r.epoch !== epoch || r.account !== account) throw reject('rewards-mismatch', `asked for ${account} in epoch ${epoch}, got ${String(r.account)} in epoch ${String(r.epoch)}`)
    const cert = await this.verifiedEpoch(epoch, o)
    if (r.proof === null || r.proof === undefined) throw reject('no-proof', `account ${account} has no leaf in epoch ${epoch}: nothing can be proven`)
    const leaf = verifyRewardProof(r.proof, cert.root)
    if (leaf === undefined) throw reject('proof-invalid', `the proof of ${account} does not hash to epoch ${epoch}'s certified root ${cert.root}`)
    if (leaf.account !== account || leaf.epoch !== epoch) throw reject('proof-account', `the proof is for ${leaf.account} in epoch ${leaf.epoch}`)
    if (String(leaf.amount) !== r.epochAmount || String(leaf.cumulative) !== r.cumulative) {
      throw reject('rewards-mismatch', `the hub says ${r.epochAmount}/${r.cumulative}, its proof ${String(leaf.amount)}/${String(leaf.cumulative)}`)
    }
    return { account, epoch, amount: leaf.amount, cumulative: leaf.cumulative, root: cert.root, valueId: cert.valueId, signers: cert.signers }
  }

  /** Every report of `device` in `epoch`'s segment: counted, or why not. */
  async explain (epoch: number, device: string, o?: CallOptions): Promise<Reply<'tally'>> {
    return await this.call('tally', { epoch }, { explain: device }, o)
  }

  /** Stored evidence (at most 100), each as base64 bytes: decode with decodeEvidenceMessage. */
  async evidence (o?: CallOptions): Promise<Reply<'evidence'>> { return await this.call('evidence', {}, {}, o) }

  /** Governance operations in the pool and recently decided: who has and has not approved (GET /gov). */
  async gov (o?: CallOptions): Promise<Reply<'gov'>> { return await this.call('gov', {}, {}, o) }

  /** The registry, validators and parameters in force during `epoch` (default: the next to decide). */
  async registry (q: { epoch?: number } = {}, o?: CallOptions): Promise<Reply<'registry'>> {
    return await this.call('registry', {}, q.epoch === undefined ? {} : { epoch: q.epoch }, o)
  }

  /** Prometheus text exposition (GET /metrics). */
  async metrics (o?: CallOptions): Promise<string> {
    const res = await this.request(routes.metrics.method, routes.metrics.url, {}, undefined, o)
    return await res.text()
  }

  /** Makes the hub refuse the given peers (empty: heal). Needs the token. */
  async partition (block: string[], o?: CallOptions): Promise<Reply<'partition'>> {
    return await this.call('partition', {}, {}, o, { block })
  }

  /**
   * The hub's event stream (GET /events) as an async iterator. Reading is pulled by the consumer:
   * at most one network chunk of parsed events is held here (plus one partial event of at most
   * `maxEventBytes`); a consumer that falls far behind is dropped by the hub, which ends the
   * iteration. Aborting `signal` (or breaking out of the loop) closes the stream and ends quietly.
   */
  async * events (o: CallOptions & { maxEventBytes?: number } = {}): AsyncGenerator<HubEvent, void, undefined> {
    const path = routes.events.url
    const ctl = new AbortController()
    // A function, not a narrowed property: the signal changes under our feet.
    const stopped = (): boolean => o.signal?.aborted === true
    const onAbort = (): void => { ctl.abort(o.signal?.reason) }
    if (stopped()) return
    o.signal?.addEventListener('abort', onAbort, { once: true })
    let timedOut = false
    const timer = setTimeout(() => { timedOut = true; ctl.abort() }, o.timeoutMs ?? this.opts.timeoutMs ?? 10_000)
    try {
      let res: Response
      try {
        res = await this.fetchFn(this.baseUrl + path, { headers: this.headers({ accept: 'text/event-stream' }), signal: ctl.signal })
      } catch (err) {
        if (stopped()) return
        throw transportError(err, timedOut, 'GET', path)
      } finally {
        clearTimeout(timer)
      }
      if (!res.ok) throw await apiError(res, 'GET', path)
      if (res.body === null) throw new HubApiError(res.status, 'bad-response', 'no body', 'GET', path)
      const parser = new SseParser({ maxEventBytes: o.maxEventBytes })
      const decoder = new TextDecoder()
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          for (const ev of parser.push(decoder.decode(chunk, { stream: true }))) {
            if (!EVENT_TYPES.has(ev.event)) continue
            let data: unknown
            try {
              data = JSON.parse(ev.data)
            } catch {
              throw new HubApiError(res.status, 'bad-response', `event ${ev.event}: data is not JSON`, 'GET', path)
            }
            yield { type: ev.event, data } as HubEvent
          }
        }
      } catch (err) {
        if (stopped()) return
        if (err instanceof HubApiError || err instanceof RangeError) throw err
        throw transportError(err, false, 'GET', path)
      }
    } finally {
      clearTimeout(timer)
      o.signal?.removeEventListener('abort', onAbort)
      ctl.abort() // closes the connection when the consumer stops early
    }
  }

  // ---- plumbing ----

  private network (what: string): Network {
    if (this.opts.network === undefined) throw new TypeError(`HubClient.${what} needs the network: new HubClient(url, { network: parseNetwork(…) })`)
    return this.opts.network
  }

  private headers (extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { ...extra }
    if (this.opts.token !== undefined) h.authorization = `Bearer ${this.opts.token}`
    return h
  }

  /** `answers`: statuses besides 2xx whose body is the route's answer (GET /health's 503). */
  private async request (method: string, path: string, query: Query, body: unknown, o: CallOptions = {}, answers: readonly number[] = []): Promise<Response> {
    const qs = new URLSearchParams()
    for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, String(v))
    const url = this.baseUrl + path + (qs.size > 0 ? `?${qs.toString()}` : '')
    const timeout = AbortSignal.timeout(o.timeoutMs ?? this.opts.timeoutMs ?? 10_000)
    const signal = o.signal === undefined ? timeout : AbortSignal.any([o.signal, timeout])
    let res: Response
    try {
      res = await this.fetchFn(url, {
        method,
        headers: this.headers(body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' }),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal
      })
    } catch (err) {
      if (o.signal?.aborted === true) throw o.signal.reason
      throw transportError(err, timeout.aborted, method, path)
    }
    if (!res.ok && !answers.includes(res.status)) throw await apiError(res, method, path)
    return res
  }

  /** One JSON route of the contract: its method, its URL with `params` filled in, its answer type. */
  private async call<R extends RouteName> (name: R, params: Record<string, string | number>, query: Query, o?: CallOptions, body?: unknown, answers?: readonly number[]): Promise<Reply<R>> {
    const route = routes[name]
    return await this.json(route.method, routePath(route, params), query, o, body, answers)
  }

  private async json<T> (method: string, path: string, query: Query, o?: CallOptions, body?: unknown, answers?: readonly number[]): Promise<T> {
    const res = await this.request(method, path, query, body, o, answers)
    const text = await res.text()
    try {
      return JSON.parse(text) as T
    } catch {
      throw new HubApiError(res.status, 'bad-response', `not JSON: ${text.slice(0, 200)}`, method, path)
    }
  }
}

function transportError (err: unknown, timedOut: boolean, method: string, path: string): HubApiError {
  if (timedOut) return new HubApiError(0, 'timeout', 'no answer in time', method, path)
  const e = err as { cause?: { code?: string }, message?: string }
  return new HubApiError(0, 'unreachable', String(e?.cause?.code ?? e?.message ?? err), method, path)
}

async function apiError (res: Response, method: string, path: string): Promise<HubApiError> {
  let text = ''
  try { text = await res.text() } catch {}
  let body: Partial<ApiErrorBody> | undefined
  try { body = JSON.parse(text) } catch {}
  const code = typeof body?.error === 'string' ? body.error : `http-${res.status}`
  const message = typeof body?.message === 'string' ? body.message : (text.trim().slice(0, 500) || res.statusText)
  return new HubApiError(res.status, code, message, method, path)
}
