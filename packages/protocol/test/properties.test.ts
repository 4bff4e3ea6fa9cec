/**
 * Property tests (fast-check). Decoders and validators must throw only ProtocolError (or a subclass)
 * on any input; encodings round-trip; and sequential checkAppend accepts exactly the valid chains.
 * Set FC_RUNS to change the number of runs (default 10 000), FC_SEED to replay a failure.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import {
  checkAppend, contentId, decodeCanonical, decodeEntry, decodeReport, decodeReportGeneral, encode, encodeEvidence, encodeReportPayload, epochOf, equalBytes,
  limits, parseNetwork, signEntry, signReport, verifyEntry, verifyEvidence, verifyReport, CID, ProtocolError, ValidationError,
  toHex, type DecodedReport, type Head, type Signer, type UsageReport, type VerifiedEntry
} from '../src/index.js'
import { DEVICE_ID_RE } from '../src/network.js'
import {
  DEV_A, DEV_A2, DEV_B, GENESIS, HUB_A, HUB_B, NOW_MS, chainNet, definition, entry, floatsIn, net, report, signed, signers
} from './fixtures.js'

const RUNS = Number(process.env.FC_RUNS ?? 10_000)
const params = (): fc.Parameters<any> => ({ numRuns: RUNS, ...(process.env.FC_SEED !== undefined ? { seed: Number(process.env.FC_SEED) } : {}) })

/** Calls fn; any throw must be a ProtocolError (or `cls`). Returns the result or the error. */
function onlyProtocolErrors<T> (fn: () => T, cls: new (...args: any[]) => ProtocolError = ProtocolError): T | ProtocolError {
  try {
    return fn()
  } catch (err) {
    if (!(err instanceof cls)) {
      assert.fail(`threw ${String((err as any)?.constructor?.name)} instead of ${cls.name}: ${String((err as any)?.message)}`)
    }
    return err
  }
}

// ---- byte mutations: bit flip, truncation, appended bytes, overwritten / inserted / deleted byte ----

type Mutation = ['flip', number, number] | ['truncate', number] | ['append', Uint8Array] | ['set', number, number] | ['insert', number, number] | ['delete', number]

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.constant('flip' as const), fc.nat(), fc.integer({ min: 0, max: 7 })),
  fc.tuple(fc.constant('truncate' as const), fc.nat()),
  fc.tuple(fc.constant('append' as const), fc.uint8Array({ minLength: 1, maxLength: 8 })),
  fc.tuple(fc.constant('set' as const), fc.nat(), fc.integer({ min: 0, max: 255 })),
  fc.tuple(fc.constant('insert' as const), fc.nat(), fc.integer({ min: 0, max: 255 })),
  fc.tuple(fc.constant('delete' as const), fc.nat())
)

function applyMutation (bytes: Uint8Array, m: Mutation): Uint8Array {
  const n = bytes.byteLength
  const out = Uint8Array.from(bytes)
  switch (m[0]) {
    case 'flip': if (n > 0) out[m[1] % n] ^= 1 << m[2]; return out
    case 'truncate': return out.slice(0, m[1] % (n + 1))
    case 'append': return Uint8Array.from([...bytes, ...m[1]])
    case 'set': if (n > 0) out[m[1] % n] = m[2]; return out
    case 'insert': { const i = m[1] % (n + 1); return Uint8Array.from([...bytes.subarray(0, i), m[2], ...bytes.subarray(i)]) }
    case 'delete': { if (n === 0) return out; const i = m[1] % n; return Uint8Array.from([...bytes.subarray(0, i), ...bytes.subarray(i + 1)]) }
  }
}

/** Random bytes, or a pool member with 1..3 mutations. */
const bytesArb = (pool: Uint8Array[], maxRandom: number): fc.Arbitrary<{ bytes: Uint8Array, original?: Uint8Array }> => fc.oneof(
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: maxRandom }).map(bytes => ({ bytes })) },
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...pool), fc.array(mutationArb, { minLength: 1, maxLength: 3 })).map(([original, ms]) => ({ bytes: ms.reduce(applyMutation, original), original })) }
)

// ---- valid reports ----

const deviceIdArb = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/)
const reportArb: fc.Arbitrary<UsageReport> = fc.record({
  device: deviceIdArb,
  counter: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  periodStart: fc.integer({ min: 0, max: 2 ** 40 }),
  periodEnd: fc.integer({ min: 0, max: 2 ** 40 }),
  energyMwh: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  solarMwh: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  litS: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  batteryMv: fc.integer({ min: 0, max: 100_000 }),
  soc: fc.integer({ min: 0, max: 100 }),
  tempDeciC: fc.integer({ min: -1000, max: 2000 }),
  faults: fc.integer({ min: 0, max: 2 ** 32 - 1 })
})

// Pools of valid objects to mutate (signed once).
const reportPool = [signed(), signed({ device: DEV_B, counter: 2 ** 40, tempDeciC: 2000, faults: 2 ** 32 - 1 }), signed({ counter: 3, energyMwh: 0, tempDeciC: -1000 })]
const T = (GENESIS + 400) * 1000
const e1 = entry({ time: T, reports: [signed({ counter: 1 })] })
const e2 = entry({ seq: 2, prev: decodeEntry(e1).id, time: T + 1000, reports: [signed({ counter: 2 }), signed({ counter: 3 })] })
const e1x = entry({ time: T, reports: [signed({ counter: 1, energyMwh: 5 })] })
const eB = entry({ hub: HUB_B, time: T, reports: [signed({ device: DEV_B })] })
const entryPool = [e1, e2, eB]
const evidencePool = [
  encodeEvidence('entry', e1, e1x),
  encodeEvidence('report', signed({ device: DEV_B, counter: 4 }), signed({ device: DEV_B, counter: 4, litS: 1 }))
]

describe('properties (fast-check)', function () {
  this.timeout(120_000)

  it(`decodeCanonical throws only ProtocolError on random and mutated bytes, and accepts only canonical bytes (${RUNS} runs)`, () => {
    const valueArb = fc.letrec(tie => ({
      v: fc.oneof({ depthSize: 'small', withCrossShrink: true },
        fc.constant(null), fc.boolean(), fc.integer(), fc.maxSafeInteger(), fc.string(), fc.uint8Array({ maxLength: 16 }),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 4 }), tie('v'), { maxKeys: 4 }))
    })).v
    const canonicalPool = [e1, reportPool[0], encode({ a: [1, -1, 'x', new Uint8Array(3), null, true, 1.5], bb: { c: CID.parse(decodeEntry(e1).id.toString()) } })]
    fc.assert(fc.property(fc.oneof(
      bytesArb(canonicalPool, 64),
      valueArb.chain(v => fc.array(mutationArb, { maxLength: 2 }).map(ms => { const original = encode(v); return { bytes: ms.reduce(applyMutation, original), original } }))
    ), ({ bytes }) => {
      const r = onlyProtocolErrors(() => decodeCanonical(bytes, 'x'))
      if (!(r instanceof ProtocolError)) assert.ok(equalBytes(encode(r), bytes), 'accepted bytes re-encode to themselves')
    }), params())
  })

  it(`decodeReport throws only ProtocolError on random and mutated bytes (${RUNS} runs)`, () => {
    fc.assert(fc.property(bytesArb(reportPool, 300), ({ bytes }) => {
      const r = onlyProtocolErrors(() => decodeReport(bytes))
      if (!(r instanceof ProtocolError)) assert.ok(equalBytes(r.bytes, bytes))
    }), params())
  })

  it(`decodeReport's direct reading of the canonical form gives what the general decoder gives, on valid, mutated and random reports (${RUNS} runs)`, () => {
    const outcome = (fn: () => DecodedReport): unknown => {
      try {
        const d = fn()
        return { report: d.report, payload: toHex(d.payload), signature: toHex(d.signature), id: d.id }
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err
        return { code: err.code, message: err.message }
      }
    }
    const signer = signers.deviceA
    const validArb = reportArb.map(r => signReport(signer, r))
    fc.assert(fc.property(fc.oneof(
      validArb.map(bytes => ({ bytes, valid: true })),
      fc.tuple(validArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 })).map(([b, ms]) => ({ bytes: ms.reduce(applyMutation, b), valid: false })),
      bytesArb(reportPool, 300).map(x => ({ bytes: x.bytes, valid: false }))
    ), ({ bytes, valid }) => {
      const got = outcome(() => decodeReport(bytes))
      assert.deepEqual(got, outcome(() => decodeReportGeneral(bytes)))
      // Every canonical report is read directly (its payload is a view of the bytes, not a copy).
      if (valid) assert.equal(decodeReport(bytes).payload.buffer, bytes.buffer)
    }), params())
  })

  it(`decodeEntry throws only ProtocolError on random and mutated bytes (${RUNS} runs)`, () => {
    fc.assert(fc.property(bytesArb(entryPool, 600), ({ bytes }) => {
      onlyProtocolErrors(() => decodeEntry(bytes))
    }), params())
  })

  it(`verifyEntry throws only ValidationError, and accepts no mutation of a valid entry (${RUNS} runs)`, () => {
    fc.assert(fc.property(bytesArb(entryPool, 600), ({ bytes, original }) => {
      const r = onlyProtocolErrors(() => verifyEntry(net, bytes, NOW_MS), ValidationError)
      if (!(r instanceof ProtocolError)) assert.ok(original !== undefined && equalBytes(bytes, original), 'only unchanged bytes verify')
    }), params())
  })

  it(`verifyEvidence throws only ValidationError, and accepts no mutation of valid evidence (${RUNS} runs)`, () => {
    fc.assert(fc.property(bytesArb(evidencePool, 600), ({ bytes, original }) => {
      const r = onlyProtocolErrors(() => verifyEvidence(net, bytes), ValidationError)
      if (!(r instanceof ProtocolError)) assert.ok(original !== undefined && equalBytes(bytes, original), 'only unchanged bytes verify')
    }), params())
  })

  it(`parseNetwork throws only ProtocolError on random text, random JSON and mutated definitions (${RUNS} runs)`, () => {
    const good = definition() as unknown as Record<string, unknown>
    const pathArb = fc.array(fc.oneof(fc.constantFrom(...Object.keys(good), 'validators', 'devices', 'location', 'peerId', 'hub', 'id', 'latE6', 'lat'), fc.nat({ max: 3 })), { minLength: 1, maxLength: 4 })
    /** Replaces (or deletes) the value at a path of a copy of the good definition. */
    const mutated = fc.tuple(pathArb, fc.option(fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.double(), fc.constantFrom(HUB_A, '', -0, NaN, Infinity, [], {}))))
      .map(([path, value]) => {
        const d: any = JSON.parse(JSON.stringify(good))
        let o = d
        for (const k of path.slice(0, -1)) { if (o === null || typeof o !== 'object') return d; o = o[k] }
        if (o !== null && typeof o === 'object') { if (value === null) delete o[path[path.length - 1]]; else o[path[path.length - 1]] = value }
        return d
      })
    const text = JSON.stringify(good)
    fc.assert(fc.property(fc.oneof(
      fc.string({ maxLength: 64 }),
      fc.jsonValue({ maxDepth: 3 }),
      fc.json({ maxDepth: 3 }),
      mutated,
      mutated.map(d => JSON.stringify(d)),
      fc.tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 3 })).map(([i, s]) => text.slice(0, i % text.length) + s + text.slice(i % text.length + 1))
    ), input => {
      const r = onlyProtocolErrors(() => parseNetwork(input))
      if (r instanceof ProtocolError) return
      assert.match(r.id, /^[0-9a-f]{32}$/)
      // Whatever is accepted puts no float into the network id.
      const { bootstrap: _b, ...rules } = r.def
      assert.equal(floatsIn(decodeCanonical(encode(rules), 'id input')), 0)
    }), params())
  })

  it(`reports round-trip: sign → decode gives the same report and payload bytes (${RUNS} runs)`, () => {
    fc.assert(fc.property(reportArb, r => {
      const bytes = signReport(signers.deviceA, r)
      assert.ok(bytes.byteLength <= limits.maxReportBytes, `${bytes.byteLength} bytes`)
      const d = decodeReport(bytes)
      assert.deepEqual(d.report, { ...r })
      assert.ok(equalBytes(d.payload, encodeReportPayload(r)))
      assert.ok(equalBytes(signReport(signers.deviceA, d.report), bytes), 'deterministic')
      assert.ok(DEVICE_ID_RE.test(d.report.device))
    }), params())
  })

  it(`plausible reports of registered devices verify; verifyReport agrees with implausibility (${RUNS} runs)`, () => {
    const r0 = report()
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: 90_000 }), fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 90_000 }),
      (counter, period, energyMwh, litS) => {
        const r = { ...r0, counter, periodEnd: r0.periodStart + period, energyMwh, litS }
        const ok = period > 0 && period <= 86_400 && litS <= period && energyMwh * 86_400 <= 500 * 1000 * period * 2
        const res = onlyProtocolErrors(() => verifyReport(net, signReport(signers.deviceA, r), HUB_A), ValidationError)
        if (ok) assert.ok(!(res instanceof ProtocolError), String((res as any).message))
        else assert.equal(res instanceof ValidationError ? `${res.action} ${res.code}` : 'accepted', 'REJECT implausible')
      }), params())
  })

  describe('chains: sequential checkAppend accepts exactly the valid chains', () => {
    chainProperty('decode pipeline (stateless-valid entries), random chains', false, RUNS)
    chainProperty('full verifyEntry pipeline, in-entry counter faults included', true, RUNS)
  })
})

// ---- chain property ----

interface Spec { seq: number, prev: CID | null, time: number, reports: Array<[string, number]> }
type Outcome = 'ok' | { index: number, result: string }

const reportCache = new Map<string, Uint8Array>()
function reportBytes ([device, counter]: [string, number]): Uint8Array {
  const k = `${device}#${counter}`
  let b = reportCache.get(k)
  if (b === undefined) { b = signed({ device, counter }); reportCache.set(k, b) }
  return b
}
/** Signs for real in the full pipeline; a constant signature suffices where signatures are not checked. */
let entrySigner: Signer = signers.hubA
const unsigned: Signer = { publicKey: signers.hubA.publicKey, sign: () => new Uint8Array(64).fill(7) }
const entryCache = new Map<string, Uint8Array>()
function entryBytes (s: Spec): Uint8Array {
  const k = JSON.stringify([entrySigner === unsigned, s.seq, s.prev?.toString() ?? null, s.time, s.reports])
  let b = entryCache.get(k)
  if (b === undefined) {
    b = signEntry(chainNet, entrySigner, { hub: HUB_A, seq: s.seq, prev: s.prev, epoch: epochOf(chainNet, s.time), time: s.time, reports: s.reports.map(reportBytes) })
    if (entryCache.size > 50_000) entryCache.clear()
    entryCache.set(k, b)
  }
  return b
}
const digestHex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const cidOf = (b: Uint8Array): CID => contentId(b)

/** Validity defined independently of src/chain.ts, with the first failure the rules must report. */
function oracle (list: Spec[], fullPipeline: boolean): Outcome {
  const used = new Set<string>()
  for (let i = 0; i < list.length; i++) {
    const s = list[i]
    if ((s.seq === 1) !== (s.prev === null)) return { index: i, result: 'REJECT entry-shape' }
    if (fullPipeline) {
      const last = new Map<string, number>()
      for (const [d, c] of s.reports) {
        if ((last.get(d) ?? 0) >= c) return { index: i, result: 'REJECT counter-order' }
        last.set(d, c)
      }
    }
    if (s.seq <= i) return { index: i, result: 'IGNORE known-seq' }
    if (s.seq > i + 1) return { index: i, result: 'IGNORE gap' }
    if (i > 0 && toHexDigest(s.prev) !== digestHex(entryBytes(list[i - 1]))) return { index: i, result: 'IGNORE fork' }
    if (i > 0 && s.time < list[i - 1].time) return { index: i, result: 'REJECT time-backwards' }
    for (const [d, c] of s.reports) if (used.has(`${d}#${c}`)) return { index: i, result: 'REJECT counter-reused' }
    for (const [d, c] of s.reports) used.add(`${d}#${c}`)
  }
  return 'ok'
}
const toHexDigest = (c: CID | null): string => c === null ? '' : Buffer.from(c.multihash.digest).toString('hex')

const verifiedCache = new Map<string, VerifiedEntry | ValidationError>()
function verifyMemo (bytes: Uint8Array): VerifiedEntry {
  const k = Buffer.from(bytes).toString('base64')
  let v = verifiedCache.get(k)
  if (v === undefined) {
    try { v = verifyEntry(chainNet, bytes, NOW_MS) } catch (err) { if (!(err instanceof ValidationError)) throw err; v = err }
    if (verifiedCache.size > 50_000) verifiedCache.clear()
    verifiedCache.set(k, v)
  }
  if (v instanceof ValidationError) throw v
  return v
}
/** Decoding only (no signature checks): what verifyEntry returns for a stateless-valid entry. */
function decodeOnly (bytes: Uint8Array): VerifiedEntry {
  try {
    const e = decodeEntry(bytes)
    return { ...e, reports: e.payload.reports.map(decodeReport) }
  } catch (err) {
    if (err instanceof ProtocolError && !(err instanceof ValidationError)) throw new ValidationError('REJECT', `entry-${err.code}`, err.message)
    throw err
  }
}

function pipeline (list: Spec[], verify: (b: Uint8Array) => VerifiedEntry): Outcome {
  let head: Head | undefined
  const used = new Set<string>()
  for (let i = 0; i < list.length; i++) {
    try {
      const v = verify(entryBytes(list[i]))
      checkAppend(head, v, (d, c) => used.has(`${d}#${c}`))
      head = { seq: v.payload.seq, id: v.id, time: v.payload.time }
      for (const r of v.reports) used.add(`${r.report.device}#${r.report.counter}`)
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err
      return { index: i, result: `${err.action} ${err.code}` }
    }
  }
  return 'ok'
}

type ChainMutation = [kind: 'drop' | 'swap' | 'dup' | 'prev' | 'counter' | 'time' | 'seq', a: number, b: number, c: number]

function chainProperty (title: string, fullPipeline: boolean, runs: number): void {
  // The full pipeline verifies every signature (≈0.1 ms each); its space is kept small so that the
  // memo of verified entries hits often and 10 000 runs stay within a few seconds.
  const baseArb = fc.array(fc.record({
    reports: fc.array(fc.tuple(fc.constantFrom(DEV_A, DEV_A2), fc.integer({ min: 1, max: fullPipeline ? 2 : 3 })), { minLength: 1, maxLength: fullPipeline ? 2 : 3 }),
    dt: fullPipeline ? fc.constantFrom(0, 1000) : fc.constantFrom(0, 1000, 2500)
  }), { minLength: 1, maxLength: fullPipeline ? 4 : 5 })
  const mutArb = fc.array(fc.tuple(fc.constantFrom('drop', 'swap', 'dup', 'prev', 'counter', 'time', 'seq'), fc.nat(), fc.nat(), fc.nat()) as fc.Arbitrary<ChainMutation>, { maxLength: 3 })

  it(`${title} (${runs} runs)`, () => {
    entrySigner = fullPipeline ? signers.hubA : unsigned
    const stats = { ok: 0, bad: new Map<string, number>() }
    fc.assert(fc.property(baseArb, mutArb, (base, muts) => {
      // A valid chain: counters rise per device by 1..3, time never goes back, each entry links to the previous.
      const next: Record<string, number> = { [DEV_A]: 0, [DEV_A2]: 0 }
      let time = T
      const list: Spec[] = []
      for (const [i, b] of base.entries()) {
        time += b.dt
        const reports = b.reports.map(([d, inc]): [string, number] => [d, (next[d] += inc)])
        list.push({ seq: i + 1, prev: i === 0 ? null : cidOf(entryBytes(list[i - 1])), time, reports })
      }
      assert.equal(oracle(list, fullPipeline), 'ok', 'the generated chain is valid')
      for (const [kind, a, b, c] of muts) mutate(list, kind, a, b, c, fullPipeline)
      const expected = oracle(list, fullPipeline)
      const actual = pipeline(list, fullPipeline ? verifyMemo : decodeOnly)
      assert.deepEqual(actual, expected)
      if (actual === 'ok') stats.ok++
      else stats.bad.set(actual.result, (stats.bad.get(actual.result) ?? 0) + 1)
    }), { ...params(), numRuns: runs })
    // every outcome is actually exercised
    assert.ok(stats.ok > runs / 10, `valid chains: ${stats.ok}`)
    const codes = ['IGNORE known-seq', 'IGNORE gap', 'IGNORE fork', 'REJECT time-backwards', 'REJECT counter-reused', 'REJECT entry-shape', ...(fullPipeline ? ['REJECT counter-order'] : [])]
    for (const code of codes) assert.ok((stats.bad.get(code) ?? 0) > 0, `${code} never happened: ${JSON.stringify([...stats.bad])}`)
  })
}

function mutate (list: Spec[], kind: ChainMutation[0], a: number, b: number, c: number, allowInEntryFaults: boolean): void {
  if (list.length === 0) return
  const i = a % list.length
  const j = b % list.length
  switch (kind) {
    case 'drop': list.splice(i, 1); return
    case 'swap': [list[i], list[j]] = [list[j], list[i]]; return
    case 'dup': list.splice(b % (list.length + 1), 0, { ...list[i] }); return
    case 'prev': {
      // link to some entry of the list (maybe the right one), or to a stranger
      const target = c % 4 === 0 ? e1 : entryBytes(list[j])
      list[i] = { ...list[i], prev: cidOf(target) }
      return
    }
    case 'counter': {
      const reports = list[i].reports.map(r => [...r] as [string, number])
      const k = b % reports.length
      reports[k][1] = 1 + c % 12
      if (!allowInEntryFaults) {
        // keep the entry stateless-valid: per device strictly increasing, else undo
        reports.sort((x, y) => x[0] === y[0] ? x[1] - y[1] : x[0] < y[0] ? -1 : 1)
        if (reports.some((r, n) => n > 0 && r[0] === reports[n - 1][0] && r[1] === reports[n - 1][1])) return
      }
      list[i] = { ...list[i], reports }
      return
    }
    case 'time': list[i] = { ...list[i], time: list[i].time + ((c % 5) - 2) * 1000 }; return
    case 'seq': list[i] = { ...list[i], seq: 1 + c % 7 }
  }
}
