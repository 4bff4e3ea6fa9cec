import assert from 'node:assert/strict'
import { SseParser, type SseEvent } from '../src/index.js'

/** Feeds `text` in pieces cut at `cuts` (character offsets). */
function feed (text: string, cuts: number[], p = new SseParser()): SseEvent[] {
  const out: SseEvent[] = []
  let at = 0
  for (const c of [...cuts, text.length]) {
    out.push(...p.push(text.slice(at, c)))
    at = c
  }
  return out
}

const STREAM = ': eCandle hub events\n\nevent: entry\ndata: {"hub":"a","seq":1}\n\n: ping\n\nevent: certificate\ndata: {"epoch":3}\n\n'
const EXPECTED: SseEvent[] = [{ event: 'entry', data: '{"hub":"a","seq":1}' }, { event: 'certificate', data: '{"epoch":3}' }]

describe('SseParser', () => {
  it('parses events and skips comments (the hub\'s greeting and pings)', () => {
    assert.deepEqual(feed(STREAM, []), EXPECTED)
  })

  it('gives the same events however the stream is split into chunks, even one character at a time', () => {
    for (let cut = 1; cut < STREAM.length; cut++) assert.deepEqual(feed(STREAM, [cut]), EXPECTED, `split at ${cut}`)
    assert.deepEqual(feed(STREAM, Array.from({ length: STREAM.length }, (_, i) => i)), EXPECTED)
  })

  it('joins multi-line data with LF, strips one leading space only, defaults the type to "message"', () => {
    assert.deepEqual(feed('data: line 1\ndata:line 2\ndata:  indented\ndata\n\n', []), [{ event: 'message', data: 'line 1\nline 2\n indented\n' }])
  })

  it('accepts CRLF and CR line ends, a CRLF split across chunks, and a BOM', () => {
    const text = '\uFEFFevent: entry\r\ndata: a\r\n\r\nevent: evidence\rdata: b\r\r'
    const want = [{ event: 'entry', data: 'a' }, { event: 'evidence', data: 'b' }]
    assert.deepEqual(feed(text, []), want)
    for (let cut = 1; cut < text.length; cut++) assert.deepEqual(feed(text, [cut]), want, `split at ${cut}`)
  })

  it('does not dispatch events without data; keeps id and retry; discards an unfinished event at the end', () => {
    const p = new SseParser()
    assert.deepEqual(p.push('event: entry\n\nid: 7\nretry: 500\ndata: x\n\ndata: unfinished'), [{ event: 'message', data: 'x', id: '7', retry: 500 }])
    p.end()
    assert.deepEqual(p.push('\n\n'), [])
  })

  it('is bounded: an endless line or event throws instead of growing', () => {
    const p = new SseParser({ maxEventBytes: 100 })
    assert.throws(() => p.push('data: ' + 'x'.repeat(200)), RangeError)
    const q = new SseParser({ maxEventBytes: 100 })
    assert.throws(() => { for (let i = 0; i < 20; i++) q.push('data: 0123456789\n') }, RangeError)
  })
})
