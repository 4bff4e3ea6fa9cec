/**
 * Server-Sent Events parser (the `text/event-stream` rules of the HTML standard): lines end in LF,
 * CR or CRLF (a CRLF may be split across chunks), `:` starts a comment, `data` lines join with LF,
 * a blank line ends an event, an event without data is not dispatched. Bounded: a line or event
 * larger than `maxEventBytes` throws rather than growing without end.
 */
export interface SseEvent {
  /** `event:` field; "message" when absent. */
  event: string
  data: string
  /** Last `id:` seen, if any. */
  id?: string
  /** `retry:` in ms, if the event set one. */
  retry?: number
}

export class SseParser {
  private buf = ''
  private skipLf = false
  private started = false
  private type = ''
  private data: string[] = []
  private dataChars = 0
  private lastId: string | undefined
  private retry: number | undefined
  readonly maxEventBytes: number

  constructor (opts: { maxEventBytes?: number } = {}) {
    this.maxEventBytes = opts.maxEventBytes ?? 1024 * 1024
  }

  /** Feeds decoded text; returns the events completed by it. */
  push (text: string): SseEvent[] {
    if (!this.started && text.length > 0) {
      this.started = true
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
    }
    if (this.skipLf && text.length > 0) {
      if (text[0] === '\n') text = text.slice(1)
      this.skipLf = false
    }
    const out: SseEvent[] = []
    const buf = this.buf + text
    let start = 0
    for (let i = 0; i < buf.length; i++) {
      const c = buf[i]
      if (c !== '\n' && c !== '\r') continue
      this.line(buf.slice(start, i), out)
      if (c === '\r') {
        if (i + 1 === buf.length) this.skipLf = true // a CRLF split across chunks
        else if (buf[i + 1] === '\n') i++
      }
      start = i + 1
    }
    this.buf = buf.slice(start)
    if (this.buf.length > this.maxEventBytes) throw new RangeError(`SSE line longer than ${this.maxEventBytes} characters`)
    return out
  }

  /** End of stream: an unfinished event is discarded (as the standard says). */
  end (): void {
    this.buf = ''
    this.data = []
    this.dataChars = 0
    this.type = ''
  }

  private line (line: string, out: SseEvent[]): void {
    if (line === '') {
      if (this.data.length > 0) {
        const ev: SseEvent = { event: this.type === '' ? 'message' : this.type, data: this.data.join('\n') }
        if (this.lastId !== undefined) ev.id = this.lastId
        if (this.retry !== undefined) ev.retry = this.retry
        out.push(ev)
      }
      this.type = ''
      this.data = []
      this.dataChars = 0
      this.retry = undefined
      return
    }
    if (line[0] === ':') return
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value[0] === ' ') value = value.slice(1)
    switch (field) {
      case 'event': this.type = value; break
      case 'data':
        this.dataChars += value.length + 1
        if (this.dataChars > this.maxEventBytes) throw new RangeError(`SSE event larger than ${this.maxEventBytes} characters`)
        this.data.push(value)
        break
      case 'id': if (!value.includes('\0')) this.lastId = value; break
      case 'retry': if (/^[0-9]+$/.test(value)) this.retry = Number(value); break
      default: // unknown fields are ignored
    }
  }
}
