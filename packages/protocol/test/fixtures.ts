/**
 * Shared fixtures for the protocol tests and the test vectors: fixed seeds, a fixed network,
 * report/entry builders and a tiny raw CBOR writer for crafting non-canonical bytes.
 * Everything here is deterministic (Ed25519 signatures are deterministic, RFC 8032).
 */
import assert from 'node:assert/strict'
import {
  CID, encode, epochOf, parseNetwork, peerIdFromPublicKey, signEntry, signerFromSeed, signReport, toHex,
  ProtocolError, ValidationError,
  type EntryPayload, type Network, type NetworkDefinition, type Signer, type UsageReport
} from '../src/index.js'

/** 32 bytes of `b`: the seeds of the vectors are 0x01…01, 0x02…02, … */
export const seed = (b: number): Uint8Array => new Uint8Array(32).fill(b)

export const signers = {
  hubA: signerFromSeed(seed(0x01)),
  hubB: signerFromSeed(seed(0x02)),
  operatorA: signerFromSeed(seed(0x03)),
  operatorB: signerFromSeed(seed(0x04)),
  deviceA: signerFromSeed(seed(0x05)),
  deviceB: signerFromSeed(seed(0x06)),
  capex: signerFromSeed(seed(0x07)),
  opex: signerFromSeed(seed(0x08)),
  /** A key registered nowhere. */
  stranger: signerFromSeed(seed(0x09)),
  /** A third device, only in `chainNet`. */
  deviceA2: signerFromSeed(seed(0x0a))
} as const

export const seedOf: Record<keyof typeof signers, number> = {
  hubA: 0x01, hubB: 0x02, operatorA: 0x03, operatorB: 0x04, deviceA: 0x05, deviceB: 0x06, capex: 0x07, opex: 0x08, stranger: 0x09, deviceA2: 0x0a
}

export const HUB_A = peerIdFromPublicKey(signers.hubA.publicKey)
export const HUB_B = peerIdFromPublicKey(signers.hubB.publicKey)
export const DEV_A = 'candle-a1'
export const DEV_B = 'candle-b1'
export const DEV_A2 = 'candle-a2'

/** 2025-01-01T00:00:00Z. */
export const GENESIS = 1_735_689_600
export const EPOCH_S = 3600
/** "Now" for all tests that do not care: two hours after genesis. */
export const NOW_MS = (GENESIS + 2 * EPOCH_S) * 1000

export function definition (): NetworkDefinition {
  return {
    name: 'eCandle test vectors',
    genesisTime: GENESIS,
    epochLengthS: EPOCH_S,
    gracePeriodS: 300,
    emissionPerEpoch: '1000000000000',
    capexBps: 6000,
    deviceCapMwhPerEpoch: '50000',
    validators: [
      { peerId: HUB_A, operator: toHex(signers.operatorA.publicKey), location: { latE6: 52_520_000, lonE6: 13_405_000 } },
      { peerId: HUB_B, operator: toHex(signers.operatorB.publicKey) }
    ],
    devices: [
      { id: DEV_A, publicKey: toHex(signers.deviceA.publicKey), hub: HUB_A, capex: toHex(signers.capex.publicKey), opex: toHex(signers.opex.publicKey), ratedWhPerDay: 500 },
      { id: DEV_B, publicKey: toHex(signers.deviceB.publicKey), hub: HUB_B, capex: toHex(signers.capex.publicKey), opex: toHex(signers.opex.publicKey), ratedWhPerDay: 250 }
    ],
    bootstrap: [`/ip4/127.0.0.1/tcp/4001/p2p/${HUB_A}`, `/ip4/127.0.0.1/tcp/4002/p2p/${HUB_B}`]
  }
}

export const net: Network = parseNetwork(JSON.stringify(definition()))

/** Same network plus a second device on hub A (for multi-device chain tests). */
export const chainNet: Network = parseNetwork({
  ...definition(),
  devices: [...definition().devices, { id: DEV_A2, publicKey: toHex(signers.deviceA2.publicKey), hub: HUB_A, capex: toHex(signers.capex.publicKey), opex: toHex(signers.opex.publicKey), ratedWhPerDay: 500 }]
})

export const deviceSigner: Record<string, Signer> = { [DEV_A]: signers.deviceA, [DEV_B]: signers.deviceB, [DEV_A2]: signers.deviceA2 }

export function report (over: Partial<UsageReport> = {}): UsageReport {
  return {
    device: DEV_A,
    counter: 1,
    periodStart: GENESIS + 60,
    periodEnd: GENESIS + 360,
    energyMwh: 1234,
    solarMwh: 2345,
    litS: 250,
    batteryMv: 3700,
    soc: 87,
    tempDeciC: -15,
    faults: 0,
    ...over
  }
}

/** Signed report bytes, signed by the device's own key unless `signer` is given. */
export function signed (over: Partial<UsageReport> = {}, signer?: Signer): Uint8Array {
  const r = report(over)
  return signReport(signer ?? deviceSigner[r.device] ?? signers.stranger, r)
}

export interface EntryOpts {
  hub?: string
  seq?: number
  prev?: CID | null
  time?: number
  epoch?: number
  reports?: Uint8Array[]
  signer?: Signer
  network?: Network
}

/** Entry payload defaults: hub A, seq 1, time 400 s after genesis, one report of device A. */
export function entryPayload (o: EntryOpts = {}): EntryPayload {
  const time = o.time ?? (GENESIS + 400) * 1000
  return {
    hub: o.hub ?? HUB_A,
    seq: o.seq ?? 1,
    prev: o.prev ?? null,
    epoch: o.epoch ?? epochOf(o.network ?? net, time),
    time,
    reports: o.reports ?? [signed()]
  }
}

export function entry (o: EntryOpts = {}): Uint8Array {
  const p = entryPayload(o)
  const signer = o.signer ?? (p.hub === HUB_B ? signers.hubB : signers.hubA)
  return signEntry(o.network ?? net, signer, p)
}

/** Envelope { p, s } around arbitrary payload bytes, signed under `domain`. */
export function envelope (body: Uint8Array, signer: Signer, domain: string): Uint8Array {
  return encode({ p: body, s: signer.sign(domain, body) })
}

// ---- raw CBOR writer (for non-canonical forms the real encoder refuses to produce) ----

/** A CBOR head: major type and argument, with `width` forcing a (possibly non-minimal) length (0 = inline). */
export function head (major: number, n: number, width?: 0 | 1 | 2 | 4 | 8): Uint8Array {
  const w = width ?? (n < 24 ? 0 : n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x100000000 ? 4 : 8)
  const m = major << 5
  if (w === 0) return Uint8Array.of(m | n)
  const info = { 1: 24, 2: 25, 4: 26, 8: 27 }[w]
  const out = new Uint8Array(1 + w)
  out[0] = m | info
  let v = BigInt(n)
  for (let i = w; i >= 1; i--) { out[i] = Number(v & 0xffn); v >>= 8n }
  return out
}
export const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.byteLength }
  return out
}
export const rawText = (s: string): Uint8Array => { const b = new TextEncoder().encode(s); return cat(head(3, b.byteLength), b) }
export const rawBytes = (b: Uint8Array): Uint8Array => cat(head(2, b.byteLength), b)
export const rawUint = (n: number, width?: 0 | 1 | 2 | 4 | 8): Uint8Array => head(0, n, width)
/** A map with the entries in exactly the given order (keys and values already encoded). */
export const rawMap = (entries: Array<[Uint8Array, Uint8Array]>): Uint8Array => cat(head(5, entries.length), ...entries.flatMap(([k, v]) => [k, v]))

// ---- assertions ----

/** Runs `fn`, expects a ValidationError with this action and code; returns it. */
export function expectValidation (fn: () => unknown, action: 'REJECT' | 'IGNORE', code: string, messagePart?: string | RegExp): ValidationError {
  let caught: unknown
  try {
    fn()
  } catch (err) {
    caught = err
  }
  assert.ok(caught !== undefined, `expected ${action} ${code}, but nothing was thrown`)
  assert.ok(caught instanceof ValidationError, `expected a ValidationError, got ${String((caught as any)?.name)}: ${String((caught as any)?.message)}`)
  assert.equal(`${caught.action} ${caught.code}`, `${action} ${code}`, caught.message)
  if (messagePart !== undefined) {
    if (typeof messagePart === 'string') assert.ok(caught.message.includes(messagePart), `message ${JSON.stringify(caught.message)} lacks ${JSON.stringify(messagePart)}`)
    else assert.match(caught.message, messagePart)
  }
  return caught
}

/** Runs `fn`, expects a ProtocolError (any subclass) with this code; returns it. */
export function expectProtocolError (fn: () => unknown, code: string, messagePart?: string): ProtocolError {
  let caught: unknown
  try {
    fn()
  } catch (err) {
    caught = err
  }
  assert.ok(caught !== undefined, `expected ProtocolError ${code}, but nothing was thrown`)
  assert.ok(caught instanceof ProtocolError, `expected a ProtocolError, got ${String((caught as any)?.name)}: ${String((caught as any)?.message)}`)
  assert.equal(caught.code, code, caught.message)
  if (messagePart !== undefined) assert.ok(caught.message.includes(messagePart), `message ${JSON.stringify(caught.message)} lacks ${JSON.stringify(messagePart)}`)
  return caught
}

/** How many non-integer numbers (CBOR floats) a decoded value holds. */
export function floatsIn (v: unknown): number {
  if (typeof v === 'number') return Number.isInteger(v) ? 0 : 1
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return 0
  return Object.values(v).reduce((s: number, x) => s + floatsIn(x), 0)
}

export const hex = (b: Uint8Array): string => toHex(b)
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))
