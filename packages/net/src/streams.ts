import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import * as lp from 'it-length-prefixed'
import { pipe } from 'it-pipe'

/**
 * All libp2p stream use goes through here (a later move to libp2p 3 touches this file only).
 * Request/response: the client sends one length-prefixed request frame and closes its side; the
 * server answers with zero or more length-prefixed frames and closes. Every frame has a maximum
 * size, every exchange a deadline, every protocol a cap on concurrent inbound streams.
 */
export interface ServeOptions {
  maxRequestBytes: number
  maxResponseBytes: number
  timeoutMs: number
  maxInboundStreams: number
}

export type Handler = (request: Uint8Array, peer: string, signal: AbortSignal) => AsyncIterable<Uint8Array> | Iterable<Uint8Array>

export interface StreamLogger { debug: (obj: object, msg: string) => void }

export async function serve (node: Libp2p, protocol: string, handler: Handler, opts: ServeOptions, log: StreamLogger): Promise<void> {
  await node.handle(protocol, ({ stream, connection }) => {
    // Never throw into libp2p: every failure aborts just this stream.
    void answer(stream, connection.remotePeer.toString(), handler, opts).catch((err: any) => {
      log.debug({ protocol, peer: connection.remotePeer.toString(), err: String(err?.message ?? err) }, 'stream failed')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    })
  }, { maxInboundStreams: opts.maxInboundStreams, maxOutboundStreams: opts.maxInboundStreams })
}

async function answer (stream: Stream, peer: string, handler: Handler, opts: ServeOptions): Promise<void> {
  const signal = AbortSignal.timeout(opts.timeoutMs)
  const onAbort = (): void => { stream.abort(new Error('deadline passed')) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    let request: Uint8Array | undefined
    for await (const frame of lp.decode(stream.source, { maxDataLength: opts.maxRequestBytes })) {
      request = frame.subarray()
      break
    }
    if (request === undefined) throw new Error('no request')
    const frames = handler(request, peer, signal)
    await pipe(frames, (src) => lp.encode(checkSize(src, opts.maxResponseBytes)), stream.sink)
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

async function * checkSize (src: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, max: number): AsyncGenerator<Uint8Array> {
  for await (const f of src) {
    if (f.byteLength > max) throw new Error(`response frame of ${f.byteLength} bytes > ${max}`)
    yield f
  }
}

export interface RequestOptions {
  maxResponseBytes: number
  /** Most frames accepted in one response. */
  maxFrames: number
  signal: AbortSignal
}

/** Sends one request; yields the response frames. Aborts the stream on signal or oversize. */
export async function * request (node: Libp2p, peer: PeerId, protocol: string, req: Uint8Array, opts: RequestOptions): AsyncGenerator<Uint8Array> {
  const stream = await node.dialProtocol(peer, protocol, { signal: opts.signal })
  const onAbort = (): void => { stream.abort(new Error('request aborted')) }
  opts.signal.addEventListener('abort', onAbort, { once: true })
  try {
    await stream.sink([lp.encode.single(req)])
    let n = 0
    for await (const frame of lp.decode(stream.source, { maxDataLength: opts.maxResponseBytes })) {
      if (++n > opts.maxFrames) throw new Error(`more than ${opts.maxFrames} frames`)
      yield frame.subarray()
    }
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  } finally {
    opts.signal.removeEventListener('abort', onAbort)
    if (stream.status === 'open') await stream.close().catch(() => {})
  }
}
