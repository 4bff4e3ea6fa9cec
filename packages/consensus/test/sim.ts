// Deterministic simulated network for the Tendermint state machine: simulated time (a priority
// queue of events), a seeded PRNG for every network/adversary choice, and a printable trace.
//
// Network model (partial synchrony with gossip, as assumed by the paper):
//  - before GST a message may be delayed arbitrarily (up to maxPreGstDelay), reordered, duplicated,
//    or lost; a lost message is re-sent by the gossip layer after GST (anti-entropy), so it arrives
//    in (GST, GST + DELTA];
//  - any message sent at t >= GST arrives within DELTA;
//  - gossip: a message received by an honest node at time t reaches every honest node by
//    max(t, GST) + DELTA (this is how byzantine messages sent to only some nodes spread).
// Byzantine validators (at most f) are 'silent', 'invalid' (propose and vote for values honest nodes
// judge invalid) or 'equivocate' (different proposals / votes to different nodes, future-round votes).

import {
  Tendermint, proposerOf, maxFaulty,
  type Message, type Output, type Step, type TendermintOptions, type Timeouts
} from '../src/index.js'

export type ByzMode = 'silent' | 'equivocate' | 'invalid'

export interface SimConfig {
  n: number
  epoch: number
  seed: number
  gst: number
  maxPreGstDelay: number
  dropPct: number
  dupPct: number
  byzantine: { index: number, mode: ByzMode }[]
}

export interface SimOptions {
  trace?: boolean
  factory?: (o: TendermintOptions<string>) => Tendermint<string>
  maxEvents?: number
  maxTime?: number
}

export interface SimResult {
  decisions: Map<string, { valueId: string, round: number, time: number }>
  honest: string[]
  violations: string[]
  evidence: number
  events: number
  eventsAfterGst: number
  endTime: number
  roundAtGst: number
  trace: string[]
}

export const DELTA = 10 // message delay bound after GST
export const TIMEOUTS: Timeouts = { proposeMs: 40, prevoteMs: 30, precommitMs: 30, deltaMs: 10 }

export const valueId = (v: string): string => `#${v}`
export const isValid = (v: string): boolean => !v.startsWith('bad')

/** mulberry32 */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type EvBody =
  | { kind: 'deliver', t: number, to: number, msg: Message<string> }
  | { kind: 'timeout', t: number, node: number, step: Step, round: number }
  | { kind: 'gst', t: number }
type Ev = EvBody & { seq: number }

class Heap {
  private a: Ev[] = []
  get size (): number { return this.a.length }
  private less (i: number, j: number): boolean {
    const x = this.a[i], y = this.a[j]
    return x.t < y.t || (x.t === y.t && x.seq < y.seq)
  }
  push (e: Ev): void {
    const a = this.a
    a.push(e)
    for (let i = a.length - 1; i > 0;) {
      const p = (i - 1) >> 1
      if (!this.less(i, p)) break;
      [a[i], a[p]] = [a[p], a[i]]
      i = p
    }
  }
  pop (): Ev {
    const a = this.a
    const top = a[0]
    const last = a.pop()!
    if (a.length > 0) {
      a[0] = last
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1
        let m = i
        if (l < a.length && this.less(l, m)) m = l
        if (r < a.length && this.less(r, m)) m = r
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]]
        i = m
      }
    }
    return top
  }
}

const msgKey = (m: Message<string>): string =>
  `${m.type}|${m.round}|${m.from}|${m.valueId}|${m.type === 'proposal' ? m.validRound : ''}`

export const fmtMsg = (m: Message<string>): string =>
  m.type === 'proposal'
    ? `proposal r${m.round} ${m.valueId} vr${m.validRound} from ${m.from}`
    : `${m.type} r${m.round} ${m.valueId ?? 'nil'} from ${m.from}`

export function simulate (cfg: SimConfig, opts: SimOptions = {}): SimResult {
  const { n, epoch } = cfg
  const ids = Array.from({ length: n }, (_, i) => `n${i}`)
  const byz = new Map(cfg.byzantine.map((b) => [b.index, b.mode]))
  if (byz.size > maxFaulty(n)) throw new Error('more than f byzantine validators')
  const honestIdx = ids.map((_, i) => i).filter((i) => !byz.has(i))
  const rnd = prng(cfg.seed)
  const randInt = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1))
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]
  const factory = opts.factory ?? ((o) => new Tendermint<string>(o))
  const maxEvents = opts.maxEvents ?? 200_000
  const maxTime = opts.maxTime ?? cfg.gst + 20_000

  const res: SimResult = {
    decisions: new Map(), honest: honestIdx.map((i) => ids[i]), violations: [], evidence: 0,
    events: 0, eventsAfterGst: 0, endTime: 0, roundAtGst: 0, trace: []
  }
  const trace = (s: string): void => { if (opts.trace) res.trace.push(s) }

  const heap = new Heap()
  let seq = 0
  let now = 0
  const push = (e: EvBody): void => heap.push({ ...e, seq: seq++ })

  // --- network -----------------------------------------------------------------------------
  const scheduled = new Set<string>()
  const delay = (t: number): number => {
    if (t >= cfg.gst) return t + randInt(1, DELTA)
    if (randInt(1, 100) <= cfg.dropPct) return cfg.gst + randInt(1, DELTA) // lost, re-sent after GST
    const at = t + randInt(1, cfg.maxPreGstDelay)
    return at > cfg.gst + DELTA ? cfg.gst + randInt(1, DELTA) : at
  }
  const transmit = (to: number, msg: Message<string>, t: number): void => {
    const key = `${to}|${msgKey(msg)}`
    if (scheduled.has(key)) return
    scheduled.add(key)
    push({ kind: 'deliver', t: delay(t), to, msg })
    if (randInt(1, 100) <= cfg.dupPct) push({ kind: 'deliver', t: delay(t), to, msg })
  }

  // --- honest nodes ------------------------------------------------------------------------
  const nodes = new Map<number, Tendermint<string>>()
  const ownVotes = new Map<string, string>()
  for (const i of honestIdx) {
    nodes.set(i, factory({ validators: ids, self: ids[i], epoch, timeouts: TIMEOUTS }))
  }
  const handle = (i: number, outs: Output<string>[]): void => {
    let persisted: Set<string> | null = null
    for (const o of outs) {
      switch (o.type) {
        case 'persist':
          persisted = new Set(o.state.sent.map(msgKey))
          break
        case 'broadcast': {
          const m = o.msg
          trace(`  ${ids[i]} sends ${fmtMsg(m)}`)
          if (!persisted?.has(msgKey(m))) res.violations.push(`${ids[i]} broadcast ${fmtMsg(m)} without persisting it first`)
          const k = `${ids[i]}|${m.type}|${m.round}`
          const prev = ownVotes.get(k)
          if (prev !== undefined && prev !== msgKey(m)) res.violations.push(`${ids[i]} equivocated: ${prev} vs ${msgKey(m)}`)
          ownVotes.set(k, msgKey(m))
          for (let j = 0; j < n; j++) if (j !== i) transmit(j, m, now)
          break
        }
        case 'schedule-timeout':
          push({ kind: 'timeout', t: now + o.ms, node: i, step: o.step, round: o.round })
          break
        case 'decide': {
          trace(`  ${ids[i]} DECIDES ${o.valueId} in round ${o.round}`)
          if (o.precommits.length < Math.floor((2 * n) / 3) + 1 && !opts.factory) res.violations.push(`${ids[i]} decided with too few precommits`)
          if (!isValid(o.value)) res.violations.push(`${ids[i]} decided invalid value ${o.value}`)
          for (const [who, d] of res.decisions) {
            if (d.valueId !== o.valueId) res.violations.push(`disagreement: ${who} decided ${d.valueId}, ${ids[i]} decided ${o.valueId}`)
          }
          res.decisions.set(ids[i], { valueId: o.valueId, round: o.round, time: now })
          break
        }
        case 'evidence':
          res.evidence++
          break
      }
    }
  }

  // --- byzantine nodes ---------------------------------------------------------------------
  const acted = new Set<string>()
  const seenIds = new Map<number, string[]>() // round -> proposal value ids seen by the adversary
  const honestValues = honestIdx.map((i) => `v${i}`)
  const byzAct = (b: number, r: number, t: number): void => {
    const mode = byz.get(b)!
    if (mode === 'silent' || acted.has(`${b}|${r}`)) return
    acted.add(`${b}|${r}`)
    const from = ids[b]
    const base = { epoch, round: r, from }
    const others = ids.map((_, j) => j).filter((j) => j !== b)
    if (mode === 'invalid') {
      const bad = `bad${b}r${r}`
      for (const j of others) {
        if (proposerOf(ids, epoch, r) === from) transmit(j, { ...base, type: 'proposal', valueId: valueId(bad), value: bad, validRound: -1 }, t)
        transmit(j, { ...base, type: 'prevote', valueId: valueId(bad) }, t)
        transmit(j, { ...base, type: 'precommit', valueId: valueId(bad) }, t)
      }
      return
    }
    // equivocate: every recipient gets its own choice.
    const values = [`byz${b}r${r}a`, `byz${b}r${r}b`, `bad${b}r${r}`, ...honestValues]
    const candidates = (): (string | null)[] => [null, ...values.map(valueId), ...(seenIds.get(r) ?? [])]
    for (const j of others) {
      if (proposerOf(ids, epoch, r) === from) {
        const v = pick(values)
        const vr = r > 0 && rnd() < 0.5 ? randInt(0, r - 1) : -1
        transmit(j, { ...base, type: 'proposal', valueId: valueId(v), value: v, validRound: vr }, t)
      }
      transmit(j, { ...base, type: 'prevote', valueId: pick(candidates()) }, t)
      transmit(j, { ...base, type: 'precommit', valueId: pick(candidates()) }, t)
    }
    if (rnd() < 0.3) byzAct(b, r + randInt(1, 3), t) // messages from the future (line 55)
  }
  const byzObserve = (b: number, msg: Message<string>, t: number): void => {
    if (byz.get(b) === 'equivocate' && msg.type === 'proposal') {
      const seen = seenIds.get(msg.round) ?? []
      if (!seen.includes(msg.valueId)) {
        seen.push(msg.valueId)
        seenIds.set(msg.round, seen)
        // Late support for a just-seen proposal, sent to a random subset (conflicts with earlier votes).
        const base = { epoch, round: msg.round, from: ids[b], valueId: msg.valueId }
        for (let j = 0; j < n; j++) {
          if (j === b || rnd() < 0.5) continue
          transmit(j, { ...base, type: 'prevote' }, t)
          transmit(j, { ...base, type: 'precommit' }, t)
        }
      }
    }
    byzAct(b, msg.round, t)
  }

  // --- run -----------------------------------------------------------------------------------
  push({ kind: 'gst', t: cfg.gst })
  for (const i of honestIdx) {
    const v = `v${i}`
    now = 0
    trace(`t=0 ${ids[i]} start (own value ${valueId(v)})`)
    handle(i, nodes.get(i)!.start({ id: valueId(v), value: v }))
  }
  for (const b of byz.keys()) byzAct(b, 0, 0)

  while (heap.size > 0 && res.decisions.size < honestIdx.length) {
    const e = heap.pop()
    now = e.t
    if (++res.events > maxEvents || now > maxTime) break
    if (now >= cfg.gst) res.eventsAfterGst++
    if (e.kind === 'gst') {
      res.roundAtGst = Math.max(...honestIdx.map((i) => nodes.get(i)!.round))
      trace(`t=${now} GST (max honest round ${res.roundAtGst})`)
    } else if (e.kind === 'timeout') {
      trace(`t=${now} ${ids[e.node]} timeout ${e.step} r${e.round}`)
      handle(e.node, nodes.get(e.node)!.onTimeout({ step: e.step, round: e.round }))
    } else if (byz.has(e.to)) {
      byzObserve(e.to, e.msg, now)
    } else {
      const m = e.msg
      trace(`t=${now} ${ids[e.to]} <- ${fmtMsg(m)}`)
      handle(e.to, nodes.get(e.to)!.onMessage(m.type === 'proposal' ? { ...m, valid: isValid(m.value) } : m))
      for (const j of honestIdx) if (j !== e.to) transmit(j, m, now) // gossip
    }
  }
  res.endTime = now
  return res
}

/** Liveness bound: decision within K rounds after the highest honest round at GST, each round at most its three timeouts plus message delays. */
export function livenessDeadline (cfg: SimConfig, roundAtGst: number): number {
  const k = 2 * maxFaulty(cfg.n) + 4
  let t = cfg.gst
  for (let r = 0; r <= roundAtGst + k; r++) {
    if (r < roundAtGst) continue
    t += TIMEOUTS.proposeMs + TIMEOUTS.prevoteMs + TIMEOUTS.precommitMs + 3 * r * TIMEOUTS.deltaMs + 4 * DELTA
  }
  return t
}
