import { crc32 } from 'node:zlib'

/**
 * Line framing for byte streams (serial): `$` base64(payload) `*` crc32hex(payload) `\n`.
 *
 * Why text lines rather than COBS: a line is readable in any serial monitor, survives links that
 * mangle control bytes, and resyncs on two unmistakable bytes ('$' starts, '\n' ends; neither can
 * occur inside base64 or hex). The '$' start marker means garbage left before a frame (a half
 * line after a reboot, line noise) never spoils the frame that follows it. Costs 33% overhead,
 * which a 200-byte report at 115200 baud can afford.
 *
 * The CRC is CRC-32/ISO-HDLC (zlib, Ethernet) over the payload bytes, 8 lowercase hex digits.
 */
export const FRAME_START = 0x24 // '$'
export const FRAME_SEP = 0x2a // '*'
export const FRAME_END = 0x0a // '\n'
const CR = 0x0d

/** A whole frame, '$' to '\n' inclusive, is at most this many bytes. */
export const MAX_FRAME_BYTES = 512
/** Largest payload that fits: base64 of 375 bytes is 500 characters, + '$' '*' 8 hex '\n' = 511. */
export const MAX_PAYLOAD_BYTES = 375

const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const HEX8_RE = /^[0-9a-f]{8}$/

export class FrameError extends Error {
  override name = 'FrameError'
}

export function crc32hex (payload: Uint8Array): string {
  return crc32(payload).toString(16).padStart(8, '0')
}

export function encodeFrame (payload: Uint8Array): Uint8Array {
  if (payload.byteLength > MAX_PAYLOAD_BYTES) throw new FrameError(`payload of ${payload.byteLength} bytes > ${MAX_PAYLOAD_BYTES}`)
  return Buffer.from(`$${Buffer.from(payload).toString('base64')}*${crc32hex(payload)}\n`, 'latin1')
}

/**
 * Parses the body of one frame: the bytes between '$' and '\n' (a trailing '\r' is allowed).
 * Returns the payload, or a reason the body is bad.
 */
export function parseFrameBody (body: Uint8Array): Uint8Array | string {
  let text = Buffer.from(body).toString('latin1')
  if (text.endsWith('\r')) text = text.slice(0, -1)
  const star = text.lastIndexOf('*')
  if (star < 0) return 'no checksum'
  const b64 = text.slice(0, star)
  const hex = text.slice(star + 1)
  if (!HEX8_RE.test(hex)) return 'bad checksum field'
  if (!B64_RE.test(b64)) return 'bad base64'
  const payload = new Uint8Array(Buffer.from(b64, 'base64'))
  if (payload.byteLength > MAX_PAYLOAD_BYTES) return 'payload too large'
  // One payload, one spelling: stray bits in the last base64 character are refused too.
  if (Buffer.from(payload).toString('base64') !== b64) return 'non-canonical base64'
  if (crc32hex(payload) !== hex) return 'checksum mismatch'
  return payload
}

export interface FrameDecoderStats {
  /** Frames decoded with a good checksum. */
  frames: number
  /** Frames started with '$' but bad: checksum, encoding, truncated by a new '$', oversize. */
  bad: number
  /** Bytes seen outside any frame. */
  garbageBytes: number
}

/**
 * Streaming decoder: feed it any chunks; it calls `onFrame` once per good frame and never throws.
 * It holds at most MAX_FRAME_BYTES, whatever the input: an overlong frame is dropped and counted,
 * and the decoder waits for the next '$'.
 */
export class FrameDecoder {
  readonly stats: FrameDecoderStats = { frames: 0, bad: 0, garbageBytes: 0 }
  private readonly buf = new Uint8Array(MAX_FRAME_BYTES)
  private len = 0
  /** Inside a frame (after '$'). */
  private inFrame = false

  constructor (private readonly onFrame: (payload: Uint8Array) => void, private readonly onBad?: (why: string) => void) {}

  /** Bytes currently held (always ≤ MAX_FRAME_BYTES). */
  get buffered (): number {
    return this.len
  }

  push (chunk: Uint8Array): void {
    for (let i = 0; i < chunk.byteLength; i++) {
      const b = chunk[i]
      if (b === FRAME_START) {
        // A new frame starts: whatever was collecting was cut short.
        if (this.inFrame) this.bad('truncated')
        this.inFrame = true
        this.len = 0
        continue
      }
      if (!this.inFrame) {
        this.stats.garbageBytes++
        continue
      }
      if (b === FRAME_END) {
        this.inFrame = false
        const body = this.buf.subarray(0, this.len)
        this.len = 0
        const r = parseFrameBody(body)
        if (typeof r === 'string') {
          this.bad(r)
        } else {
          this.stats.frames++
          try {
            this.onFrame(r)
          } catch {
            // A consumer's bug must not kill the stream; the consumer logs its own errors.
          }
        }
        continue
      }
      // '$' + body + '\n' must fit in MAX_FRAME_BYTES.
      if (this.len >= MAX_FRAME_BYTES - 2) {
        this.inFrame = false
        this.len = 0
        this.bad('oversize')
        continue
      }
      if (b === CR || b === FRAME_SEP || isB64OrHex(b)) {
        this.buf[this.len++] = b
      } else {
        // A byte that can never be in a frame: the frame is corrupt; wait for the next '$'.
        this.inFrame = false
        this.len = 0
        this.bad('bad byte')
      }
    }
  }

  /** Forgets a partial frame (the link went away). */
  reset (): void {
    this.inFrame = false
    this.len = 0
  }

  private bad (why: string): void {
    this.stats.bad++
    try { this.onBad?.(why) } catch {}
  }
}

function isB64OrHex (b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2b || b === 0x2f || b === 0x3d
}
