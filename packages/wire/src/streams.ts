import type { AbortOptions, Libp2p } from '@libp2p/interface'
import { ProtocolError } from '@ecandle/protocol'
import * as lp from 'it-length-prefixed'
import type { WireProtocol } from './protocols.js'

/**
 * All libp2p stream use goes through here (a later move to libp2p 3 touches this file only).
 * Request/response: the client sends one length-prefixed request frame and closes its side; the
 * server answers with zero or more length-prefixed frames and closes. Every frame has a maximum
 * size, every exchange a deadline, every protocol a cap on concurrent inbound streams. The deadline
 * bounds the whole exchange and is not reset per frame (as kad-dht's is per message): an exchange
 * is one request and one bounded answer (a page), and a peer that trickles bytes must not hold a
 * stream slot for longer than that (the attacker harness does exactly that).
 */

export type WireErrorCode = 'frame-size' | 'frame-count' | 'truncated' | 'no-request' | 'no-answer' | 'timeout'

/** A request/response exchange that broke the framing rules or its deadline. */
export class WireError extends ProtocolError {
  override name = 'WireError'
  constructor (override readonly code: WireErrorCode, message: string) {
    super(code, message)
  }
}

/** What the client needs of a libp2p stream (libp2p 2.x `Stream`). */
export interface StreamLike {
  source: AsyncIterable<Uint8Array | { subarray: () => Uint8Array }>
  sink: (source: Iterable<Uint8Array>) => Promise<void>
  abort: (err: Error) => void
  close?: () => Promise<void>
  status?: string
}

/** A node that can open protocol streams: `Libp2p` of libp2p 2.x. `P` is a PeerId or a Multiaddr. */
export interface NodeWithStreams<P> {
  dialProtocol: (peer: P, protocol: string, options?: { signal?: AbortSignal }) => Promise<StreamLike>
}

export interface StreamLogger { debug: (obj: object, msg: string) => void }

// ---- client ----

export interface RequestOptions {
  maxResponseBytes: number
  /** Most frames accepted in one response. */
  maxFrames: number
  signal: AbortSignal
}

async function * chunks (source: StreamLike['source']): AsyncGenerator<Uint8Array> {
  for await (const c of source) yield c instanceof Uint8Array ? c : c.subarray()
}

/** Framing errors of it-length-prefixed, named. */
function framingError (err: any, protocol: string, maxBytes: number): unknown {
  if (err?.name === 'InvalidDataLengthError' || err?.name === 'InvalidDataLengthLengthError') return new WireError('frame-size', `${protocol}: a frame over ${maxBytes} bytes`)
  if (err?.name === 'UnexpectedEOFError') return new WireError('truncated', `${protocol}: stream ended inside a frame`)
  return err
}

/** Sends one request; yields the raw response frames. Aborts the stream on signal, oversize or too many frames. */
export async function * request<P> (node: NodeWithStreams<P>, peer: P, protocol: string, req: Uint8Array, opts: RequestOptions): AsyncGenerator<Uint8Array> {
  opts.signal.throwIfAborted()
  const stream = await node.dialProtocol(peer, protocol, { signal: opts.signal })
  const onAbort = (): void => { stream.abort(new Error('request aborted')) }
  opts.signal.addEventListener('abort', onAbort, { once: true })
  try {
    await stream.sink([lp.encode.single(req).subarray()])
    let n = 0
    for await (const frame of lp.decode(chunks(stream.source), { maxDataLength: opts.maxResponseBytes })) {
      if (++n > opts.maxFrames) throw new WireError('frame-count', `${protocol}: more than ${opts.maxFrames} frames`)
      yield frame.subarray()
    }
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    if (opts.signal.aborted) throw opts.signal.reason
    throw framingError(err, protocol, opts.maxResponseBytes)
  } finally {
    opts.signal.removeEventListener('abort', onAbort)
    if (stream.status === 'open') await stream.close?.().catch(() => {})
  }
}

export interface CallOptions extends AbortOptions {
  /**
   * Deadline of each exchange. Without it, an exchange gets the protocol's default deadline only when
   * the caller gave no signal (the caller's signal then bounds it alone).
   */
  timeoutMs?: number
}

/**
 * One exchange of `proto`: yields its decoded response frames, bounded by the caller's signal and the
 * deadline of `opts` (a WireError 'timeout' when the deadline passes).
 */
export async function * ask<Req, F, P> (node: NodeWithStreams<P>, peer: P, networkId: string, proto: WireProtocol<Req, F>, req: Req, opts: CallOptions = {}): AsyncGenerator<F> {
  const timeoutMs = opts.timeoutMs ?? (opts.signal === undefined ? proto.timeoutMs : undefined)
  const deadline = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs)
  const signal = deadline === undefined ? opts.signal! : opts.signal === undefined ? deadline : AbortSignal.any([opts.signal, deadline])
  try {
    for await (const f of request(node, peer, proto.name(networkId), proto.encodeRequest(req), { maxResponseBytes: proto.maxFrameBytes, maxFrames: proto.maxFrames(req), signal })) {
      yield proto.decodeFrame(f, req)
    }
  } catch (err) {
    if (deadline?.aborted === true && opts.signal?.aborted !== true) throw new WireError('timeout', `${proto.name(networkId)}: no complete answer within ${timeoutMs} ms`)
    throw err
  }
}

/** Every response frame of one exchange. */
export async function askAll<Req, F, P> (node: NodeWithStreams<P>, peer: P, networkId: string, proto: WireProtocol<Req, F>, req: Req, opts: CallOptions = {}): Promise<F[]> {
  const out: F[] = []
  for await (const f of ask(node, peer, networkId, proto, req, opts)) out.push(f)
  return out
}

// ---- server ----

export interface ServeOptions {
  maxRequestBytes: number
  maxResponseBytes: number
  timeoutMs: number
  maxInboundStreams: number
  /** Aborts every answer in flight (a component's stop). */
  signal?: AbortSignal
}

export type Handler = (request: Uint8Array, peer: string, signal: AbortSignal) => AsyncIterable<Uint8Array> | Iterable<Uint8Array>

/** A registered protocol: `close` unregisters it, aborts the answers in flight and waits for them. */
export interface Served {
  readonly protocol: string
  readonly inFlight: number
  close: () => Promise<void>
}

type Registrar = Pick<Libp2p, 'handle' | 'unhandle'>

/** Registers `handler` for `protocol`. Never throws into libp2p: every failure aborts just its stream. */
export async function serve (node: Registrar, protocol: string, handler: Handler, opts: ServeOptions, log: StreamLogger): Promise<Served> {
  // One controller per answer, aborted by its deadline or by `close`/the component's stop through
  // this set: no AbortSignal.any over long-lived signals, which keeps a WeakRef per answer on them
  // (tens of thousands under a stream flood) until they are aborted.
  const answers = new Set<AbortController>()
  let closed: Error | undefined
  const stopAll = (why: Error): void => {
    closed ??= why
    for (const c of answers) c.abort(why)
  }
  const onStop = (): void => { stopAll(new Error(`${protocol}: server stopped`)) }
  opts.signal?.addEventListener('abort', onStop, { once: true })
  const inFlight = new Set<Promise<void>>()
  await node.handle(protocol, ({ stream, connection }) => {
    const peer = connection.remotePeer.toString()
    const ctl = new AbortController()
    if (closed !== undefined) ctl.abort(closed)
    answers.add(ctl)
    const run = answer(stream, peer, handler, opts, ctl).catch((err: any) => {
      log.debug({ protocol, peer, err: String(err?.message ?? err) }, 'stream failed')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }).finally(() => {
      answers.delete(ctl)
      inFlight.delete(run)
    })
    inFlight.add(run)
    // Relayed connections are "limited": hubs reached only through a relay sync over them too
    // (the relay's limits are sized for hub traffic: docs/networking.md).
  }, { maxInboundStreams: opts.maxInboundStreams, maxOutboundStreams: opts.maxInboundStreams, runOnLimitedConnection: true })
  return {
    protocol,
    get inFlight () { return inFlight.size },
    async close () {
      await node.unhandle(protocol).catch(() => {})
      opts.signal?.removeEventListener('abort', onStop)
      stopAll(new Error(`${protocol}: server stopped`))
      await Promise.allSettled([...inFlight])
    }
  }
}

async function answer (stream: Parameters<Parameters<Registrar['handle']>[1]>[0]['stream'], peer: string, handler: Handler, opts: ServeOptions, ctl: AbortController): Promise<void> {
  const signal = ctl.signal
  const deadline = setTimeout(() => { ctl.abort(new Error('deadline passed')) }, opts.timeoutMs)
  const onAbort = (): void => { stream.abort(signal.reason instanceof Error ? signal.reason : new Error('deadline passed')) }
  try {
    if (signal.aborted) { onAbort(); return }
    signal.addEventListener('abort', onAbort, { once: true })
    let req: Uint8Array | undefined
    for await (const frame of lp.decode(stream.source, { maxDataLength: opts.maxRequestBytes })) {
      req = frame.subarray()
      break
    }
    if (req === undefined) throw new WireError('no-request', 'no request')
    await Promise.race([stream.sink(lp.encode(checkSize(handler(req, peer, signal), opts.maxResponseBytes))), aborted(signal)])
  } finally {
    clearTimeout(deadline)
    signal.removeEventListener('abort', onAbort)
  }
}

/** Rejects with the signal's reason once it aborts. */
async function aborted (signal: AbortSignal): Promise<never> {
  return await new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason)
    else signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true })
  })
}

async function * checkSize (src: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, max: number): AsyncGenerator<Uint8Array> {
  for await (const f of src) {
    if (f.byteLength > max) throw new WireError('frame-size', `response frame of ${f.byteLength} bytes > ${max}`)
    yield f
  }
}

export interface HandleOptions {
  logger: StreamLogger
  /** Aborts every answer in flight (a component's stop). */
  signal?: AbortSignal
  /** Deadline of one answer; default the protocol's. */
  timeoutMs?: number
  maxInboundStreams?: number
}

export type Answer<Req, F> = (req: Req, peer: string, signal: AbortSignal) => AsyncIterable<F> | Iterable<F>

/** Serves `proto` on network `networkId`: requests decoded strictly, frames encoded and size-checked. */
export async function handle<Req, F> (node: Registrar, networkId: string, proto: WireProtocol<Req, F>, fn: Answer<Req, F>, opts: HandleOptions): Promise<Served> {
  return await serve(node, proto.name(networkId), async function * (bytes, peer, signal) {
    const req = proto.decodeRequest(bytes)
    for await (const f of fn(req, peer, signal)) yield proto.encodeFrame(f)
  }, {
    maxRequestBytes: proto.maxRequestBytes,
    maxResponseBytes: proto.maxFrameBytes,
    timeoutMs: opts.timeoutMs ?? proto.timeoutMs,
    maxInboundStreams: opts.maxInboundStreams ?? proto.maxInboundStreams,
    signal: opts.signal
  }, opts.logger)
}
