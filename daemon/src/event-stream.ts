import type { ServerResponse } from 'node:http'
import type { EventEmitter } from 'node:events'
import type { HubEvents } from './hub.js'

/**
 * GET /events clients: one listener per event on the hub, however many clients (each client a
 * listener of its own would pass Node's MaxListeners and cost every entry one closure per client).
 * Bounded: at most `maxClients` at once (more are answered 503), and a client that does not read is
 * dropped once `maxBufferedBytes` wait for it (it reconnects and catches up through the API).
 */
export class EventStreams {
  private readonly clients = new Set<ServerResponse>()
  private readonly ping: NodeJS.Timeout
  private readonly unsubscribe: () => void
  readonly counts = { opened: 0, refused: 0, dropped: 0 }

  constructor (events: EventEmitter<HubEvents>, private readonly opts: { maxClients: number, maxBufferedBytes: number, pingMs: number }) {
    const names = ['entry', 'evidence', 'certificate'] as const
    const handlers = names.map(name => {
      const fn = (data: object): void => { this.broadcast(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`) }
      events.on(name, fn)
      return [name, fn] as const
    })
    this.unsubscribe = () => { for (const [name, fn] of handlers) events.off(name, fn) }
    this.ping = setInterval(() => { this.broadcast(': ping\n\n') }, opts.pingMs)
    this.ping.unref()
  }

  get size (): number { return this.clients.size }

  /** Takes over a response: headers, the stream, and cleanup when the client goes. False when full. */
  open (res: ServerResponse): boolean {
    if (this.clients.size >= this.opts.maxClients) {
      this.counts.refused++
      // Connection: close: a refused client holds no socket (and its buffers) here.
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '10', connection: 'close' })
      res.end(JSON.stringify({ error: 'unavailable', message: `${this.opts.maxClients} event streams are open; try again later` }))
      return false
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
    res.write(': eCandle hub events\n\n')
    this.clients.add(res)
    this.counts.opened++
    res.once('close', () => { this.clients.delete(res) })
    return true
  }

  private broadcast (text: string): void {
    for (const res of this.clients) {
      if (res.writableLength > this.opts.maxBufferedBytes) {
        this.counts.dropped++
        this.clients.delete(res)
        res.destroy()
        continue
      }
      res.write(text)
    }
  }

  close (): void {
    clearInterval(this.ping)
    this.unsubscribe()
    for (const res of this.clients) res.destroy()
    this.clients.clear()
  }
}
