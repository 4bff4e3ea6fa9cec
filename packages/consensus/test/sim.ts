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
  Tendermint, applySetChange, checkSetChange, proposerOf, maxFaulty, quorumSize,
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

/** The network model both simulations share (see the header): one delivery per (recipient, message key), delays, losses re-sent after GST, duplicates. */
function gossipNet<To extends string | number> (
  cfg: Pick<SimConfig, 'gst' | 'maxPreGstDelay' | 'dropPct' | 'dupPct'>,
  randInt: (lo: number, hi: number) => number,
  deliver: (to: To, msg: Message<string>, at: number) => void,
  keyOf: (m: Message<string>) => string
): { delay: (t: number) => number, transmit: (to: To, msg: Message<string>, t: number) => void, once: (key: string) => boolean } {
  const scheduled = new Set<string>()
  const delay = (t: number): number => {
    if (t >= cfg.gst) return t + randInt(1, DELTA)
    if (randInt(1, 100) <= cfg.dropPct) return cfg.gst + randInt(1, DELTA) // lost, re-sent after GST
    const at = t + randInt(1, cfg.maxPreGstDelay)
    return at > cfg.gst + DELTA ? cfg.gst + randInt(1, DELTA) : at
  }
  const once = (key: string): boolean => {
    if (scheduled.has(key)) return false
    scheduled.add(key)
    return true
  }
  const transmit = (to: To, msg: Message<string>, t: number): void => {
    if (!once(`${to}|${keyOf(msg)}`)) return
    deliver(to, msg, delay(t))
    if (randInt(1, 100) <= cfg.dupPct) deliver(to, msg, delay(t))
  }
  return { delay, transmit, once }
}

/** What every honest node's broadcasts must keep: persisted before sent, never two different messages for one (epoch, round, step). */
function broadcastChecker (keyOf: (m: Message<string>) => string, violations: string[]): (who: string, m: Message<string>, persisted: Set<string> | null) => void {
  const own = new Map<string, string>()
  return (who, m, persisted) => {
    if (!persisted?.has(keyOf(m))) violations.push(`${who} broadcast ${fmtMsg(m)} without persisting it first`)
    const k = `${who}|${m.epoch}|${m.type}|${m.round}`
    const prev = own.get(k)
    if (prev !== undefined && prev !== keyOf(m)) violations.push(`${who} equivocated: ${prev} vs ${keyOf(m)}`)
    own.set(k, keyOf(m))
  }
}

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
  const { transmit } = gossipNet<number>(cfg, randInt, (to, msg, t) => push({ kind: 'deliver', t, to, msg }), msgKey)

  // --- honest nodes ------------------------------------------------------------------------
  const nodes = new Map<number, Tendermint<string>>()
  const checkBroadcast = broadcastChecker(msgKey, res.violations)
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
          checkBroadcast(ids[i], m, persisted)
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

// ---------------------------------------------------------------------------------------------------
// A chain of epochs whose decided values change the validator set (docs/governance.md §5), the
// way governance does: a value decided in epoch E changes the set of E+2. Each honest node runs one
// Tendermint instance per epoch it is a validator of, with that epoch's set; when it decides (or
// receives a certificate: the decided value and more than 2/3 of that epoch's precommits) it moves to
// the next epoch, as a validator if it is one there, or as a follower.
//
// A value names its set change: `tag|epoch|+added|-removed`. It is valid when the change passes
// `checkSetChange` against V(E+1) and is approved: it keeps at most f byzantine validators in the next
// set (what the > 2/3 approvals of governance stand for: honest validators do not approve a change
// that breaks their trust assumption). Byzantine validators are silent, equivocate, or propose and
// vote for invalid changes, in every epoch they are validators of.

export interface ChainConfig {
  /** Genesis validators: n0 … n(n−1); n(n) … n(n+pool−1) may be added later. */
  n: number
  pool: number
  epochs: number
  seed: number
  gst: number
  maxPreGstDelay: number
  dropPct: number
  dupPct: number
  /** Indices into the whole universe (genesis and pool). */
  byzantine: { index: number, mode: ByzMode }[]
  /** Percent of honest proposals that change the set (as much as the rules allow). */
  changePct: number
}

export interface ChainResult {
  /** Epoch → the value id honest nodes decided (or adopted). */
  decided: Map<number, string>
  /** The validator set of each epoch, from the decided values. */
  sets: string[][]
  honest: string[]
  /** Node → the first epoch it has not decided. */
  reached: Map<string, number>
  reachedAt: Map<string, number>
  violations: string[]
  changes: number
  events: number
  endTime: number
  roundAtGst: number
  trace: string[]
}

export interface SetChange { added: string[], removed: string[] }

export function parseChainValue (v: string): { epoch: number, change: SetChange } | undefined {
  const parts = v.split('|')
  if (parts.length !== 4 || !parts[2].startsWith('+') || !parts[3].startsWith('-')) return undefined
  const list = (s: string): string[] => (s.length === 0 ? [] : s.split(','))
  return { epoch: Number(parts[1]), change: { added: list(parts[2].slice(1)), removed: list(parts[3].slice(1)) } }
}

export const chainValue = (tag: string, epoch: number, c: SetChange): string => `${tag}|${epoch}|+${c.added.join(',')}|-${c.removed.join(',')}`

const chainMsgKey = (m: Message<string>): string => `${m.epoch}|${msgKey(m)}`

export function simulateChain (cfg: ChainConfig, opts: { trace?: boolean, maxEvents?: number, maxTime?: number, unapproved?: boolean } = {}): ChainResult {
  const N = cfg.n + cfg.pool
  const ids = Array.from({ length: N }, (_, i) => `n${i}`)
  const byz = new Map(cfg.byzantine.map((b) => [ids[b.index], b.mode]))
  const isByz = (id: string): boolean => byz.has(id)
  const honest = ids.filter((id) => !isByz(id))
  const rnd = prng(cfg.seed)
  const randInt = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1))
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]
  const maxEvents = opts.maxEvents ?? 400_000
  const maxTime = opts.maxTime ?? cfg.gst + 40_000
  const res: ChainResult = {
    decided: new Map(), sets: [], honest, reached: new Map(), reachedAt: new Map(), violations: [], changes: 0, events: 0, endTime: 0, roundAtGst: 0, trace: []
  }
  const trace = (s: string): void => { if (opts.trace) res.trace.push(s) }
  const genesis = ids.slice(0, cfg.n)
  const byzIn = (set: readonly string[]): number => set.filter(isByz).length
  if (byzIn(genesis) > maxFaulty(cfg.n)) throw new Error('more than f byzantine genesis validators')

  /** The change keeps the trust assumption for the set it leads to (stands for governance's approvals). */
  const approved = (next: readonly string[], c: SetChange): boolean => {
    const after = applySetChange(next, c.added, c.removed)
    return byzIn(after) <= maxFaulty(after.length)
  }
  // opts.unapproved (harness check only): validators accept any change the set rule allows, approved or not.
  const validChange = (next: readonly string[], c: SetChange): boolean =>
    checkSetChange(next, c.added, c.removed, cfg.n) === undefined && c.added.every((id) => ids.includes(id)) && (opts.unapproved === true || approved(next, c))

  // The agreed chain (from the first decision of each epoch): sets[E] = V(E).
  const sets: string[][] = [genesis, genesis]
  const setsUpTo = (e: number): void => {
    while (sets.length < e + 3 && res.decided.has(sets.length - 2)) {
      const d = parseChainValue(valueById.get(res.decided.get(sets.length - 2)!)!)!
      sets.push(applySetChange(sets[sets.length - 1], d.change.added, d.change.removed))
    }
  }
  const valueById = new Map<string, string>()

  // --- events and network (as in `simulate`) -------------------------------------------------
  type CertMsg = { epoch: number, valueId: string, value: string, signers: string[] }
  type ChainEv =
    | { kind: 'deliver', t: number, to: string, msg: Message<string> }
    | { kind: 'cert', t: number, to: string, cert: CertMsg }
    | { kind: 'timeout', t: number, node: string, epoch: number, step: Step, round: number }
    | { kind: 'gst', t: number }
  const heap = new Heap()
  let seq = 0
  let now = 0
  const push = (e: ChainEv): void => heap.push({ ...(e as any), seq: seq++ })
  const { delay, transmit, once } = gossipNet<string>(cfg, randInt, (to, msg, t) => push({ kind: 'deliver', t, to, msg }), chainMsgKey)
  const sendCert = (to: string, cert: CertMsg, t: number): void => {
    if (once(`${to}|cert|${cert.epoch}`)) push({ kind: 'cert', t: delay(t), to, cert })
  }

  // --- honest nodes --------------------------------------------------------------------------
  interface Node {
    id: string
    /** First epoch not decided. */
    next: number
    /** This node's view of the sets (from what it decided): view[E] = V(E). */
    view: string[][]
    tm?: Tendermint<string>
    future: Message<string>[]
    certs: Map<number, CertMsg>
  }
  const nodes = new Map<string, Node>(honest.map((id) => [id, { id, next: 0, view: [genesis, genesis], future: [], certs: new Map() }]))
  const checkBroadcast = broadcastChecker(chainMsgKey, res.violations)

  const proposalOf = (node: Node, e: number): string => {
    const next = node.view[e + 1]
    let change: SetChange = { added: [], removed: [] }
    if (randInt(1, 100) <= cfg.changePct) {
      // As large a change as the rules and approvals allow, from random candidates.
      const outside = ids.filter((id) => !next.includes(id))
      for (let tries = 0; tries < 6; tries++) {
        const c: SetChange = {
          added: rnd() < 0.6 && outside.length > 0 ? [pick(outside)] : [],
          removed: rnd() < 0.5 ? [pick(next)] : []
        }
        if (c.added.length + c.removed.length > 0 && validChange(next, c)) { change = c; break }
      }
    }
    return chainValue(node.id, e, change)
  }
  const validFor = (node: Node, e: number, v: string): boolean => {
    const p = parseChainValue(v)
    return p !== undefined && p.epoch === e && !v.startsWith('bad') && validChange(node.view[e + 1], p.change)
  }

  const startEpoch = (node: Node): void => {
    const e = node.next
    if (e >= cfg.epochs) return
    const vs = node.view[e]
    node.tm = undefined
    if (!vs.includes(node.id)) { trace(`t=${now} ${node.id} follows epoch ${e} (not a validator)`); return }
    node.tm = new Tendermint<string>({ validators: vs, self: node.id, epoch: e, timeouts: TIMEOUTS })
    const own = proposalOf(node, e)
    valueById.set(valueId(own), own)
    trace(`t=${now} ${node.id} starts epoch ${e} with [${vs.join(',')}] (own ${own})`)
    handle(node, node.tm.start({ id: valueId(own), value: own }))
    const queued = node.future.filter((m) => m.epoch === e)
    node.future = node.future.filter((m) => m.epoch > e)
    for (const m of queued) deliverTo(node, m)
  }

  const decide = (node: Node, e: number, vid: string, value: string, signers: readonly string[]): void => {
    if (e !== node.next) return
    valueById.set(vid, value)
    const agreed = res.decided.get(e)
    if (agreed !== undefined && agreed !== vid) res.violations.push(`disagreement in epoch ${e}: ${agreed} vs ${vid} (${node.id})`)
    if (agreed === undefined) res.decided.set(e, vid)
    // Quorum is counted against the set of the epoch decided.
    const vs = node.view[e]
    const distinct = new Set(signers.filter((s) => vs.includes(s)))
    if (distinct.size < quorumSize(vs.length)) res.violations.push(`${node.id} took epoch ${e} with ${distinct.size} signers of ${vs.length}`)
    const p = parseChainValue(value)
    if (p === undefined || value.startsWith('bad') || !validChange(node.view[e + 1], p.change)) res.violations.push(`${node.id} decided invalid value ${value} in epoch ${e}`)
    else node.view[e + 2] = applySetChange(node.view[e + 1], p.change.added, p.change.removed)
    node.next = e + 1
    res.reached.set(node.id, node.next)
    res.reachedAt.set(node.id, now)
    const cert: CertMsg = { epoch: e, valueId: vid, value, signers: [...distinct] }
    for (const to of ids) if (to !== node.id) sendCert(to, cert, now)
    startEpoch(node)
    const later = node.certs.get(node.next)
    if (later !== undefined) { node.certs.delete(node.next); adopt(node, later) }
  }

  const adopt = (node: Node, c: CertMsg): void => {
    if (c.epoch < node.next) return
    if (c.epoch > node.next) { node.certs.set(c.epoch, c); return }
    trace(`t=${now} ${node.id} adopts the certificate of epoch ${c.epoch} (${c.valueId})`)
    decide(node, c.epoch, c.valueId, c.value, c.signers)
  }

  const handle = (node: Node, outs: Output<string>[]): void => {
    let persisted: Set<string> | null = null
    for (const o of outs) {
      switch (o.type) {
        case 'persist':
          persisted = new Set(o.state.sent.map(chainMsgKey))
          break
        case 'broadcast': {
          const m = o.msg
          checkBroadcast(node.id, m, persisted)
          for (const j of ids) if (j !== node.id) transmit(j, m, now)
          break
        }
        case 'schedule-timeout':
          push({ kind: 'timeout', t: now + o.ms, node: node.id, epoch: node.next, step: o.step, round: o.round })
          break
        case 'decide':
          trace(`t=${now} ${node.id} DECIDES epoch ${o.epoch}: ${o.valueId} (round ${o.round})`)
          decide(node, o.epoch, o.valueId, o.value, o.precommits.map((p) => p.from))
          return // the instance is finished; later outputs of this call belong to nobody
        case 'evidence':
          break
      }
    }
  }

  const deliverTo = (node: Node, m: Message<string>): void => {
    if (m.epoch > node.next) { if (node.future.length < 10_000) node.future.push(m); return }
    if (m.epoch < node.next || node.tm === undefined) return
    if (m.type === 'proposal') valueById.set(m.valueId, m.value)
    handle(node, node.tm.onMessage(m.type === 'proposal' ? { ...m, valid: validFor(node, m.epoch, m.value) } : m))
  }

  // --- byzantine nodes ---------------------------------------------------------------------------
  const acted = new Set<string>()
  const seen = new Map<string, string[]>()
  const byzAct = (b: string, e: number, r: number, t: number): void => {
    setsUpTo(e)
    const vs = sets[e]
    const mode = byz.get(b)!
    if (vs === undefined || !vs.includes(b) || mode === 'silent' || acted.has(`${b}|${e}|${r}`) || e >= cfg.epochs) return
    if (opts.unapproved === true && mode === 'equivocate' && proposerOf(vs, e, r) !== b && rnd() < 0.3) return
    acted.add(`${b}|${e}|${r}`)
    const base = { epoch: e, round: r, from: b }
    const others = ids.filter((j) => j !== b)
    const next = sets[e + 1] ?? vs
    // An invalid value: a change past the bound (or a plain bad value when the set is tiny).
    const tooBig: SetChange = { added: [], removed: next.slice(0, Math.max(1, Math.ceil(next.length / 2))) }
    const bad = validChange(next, tooBig) ? `bad${b}e${e}r${r}|${e}|+|-` : chainValue(`inv${b}r${r}`, e, tooBig)
    valueById.set(valueId(bad), bad)
    if (mode === 'invalid') {
      for (const j of others) {
        if (proposerOf(vs, e, r) === b) transmit(j, { ...base, type: 'proposal', valueId: valueId(bad), value: bad, validRound: -1 }, t)
        transmit(j, { ...base, type: 'prevote', valueId: valueId(bad) }, t)
        transmit(j, { ...base, type: 'precommit', valueId: valueId(bad) }, t)
      }
      return
    }
    // Without approvals, byzantine proposers bring in byzantine hubs and push out honest ones.
    const takeover: SetChange = { added: ids.filter((x) => isByz(x) && !next.includes(x)).slice(0, 1), removed: next.filter((x) => !isByz(x)).slice(0, 1) }
    const grab = opts.unapproved === true && validChange(next, takeover) ? [chainValue(`grab${b}r${r}`, e, takeover)] : []
    const values = [chainValue(`byz${b}r${r}a`, e, { added: [], removed: [] }), chainValue(`byz${b}r${r}b`, e, { added: [], removed: [] }), bad, ...grab]
    for (const v of values) valueById.set(valueId(v), v)
    const candidates = (): (string | null)[] => [null, ...values.map(valueId), ...(seen.get(`${e}|${r}`) ?? [])]
    if (opts.unapproved === true) {
      // Once they may be many, byzantine validators coordinate: every one of them tells each honest node
      // the same of two valid values, by the node's parity (the split attack a quorum of them can win).
      const split = [chainValue(`splitA${r}`, e, { added: [], removed: [] }), chainValue(`splitB${r}`, e, { added: [], removed: [] })]
      for (const v of split) valueById.set(valueId(v), v)
      for (const j of others) {
        const v = split[Number(j.slice(1)) % 2]
        if (proposerOf(vs, e, r) === b) transmit(j, { ...base, type: 'proposal', valueId: valueId(v), value: v, validRound: -1 }, t)
        transmit(j, { ...base, type: 'prevote', valueId: valueId(v) }, t)
        transmit(j, { ...base, type: 'precommit', valueId: valueId(v) }, t)
      }
      if (grab.length > 0 && proposerOf(vs, e, r) === b && rnd() < 0.5) for (const j of others) transmit(j, { ...base, round: r, type: 'proposal', valueId: valueId(grab[0]), value: grab[0], validRound: -1 }, t)
      return
    }
    for (const j of others) {
      if (proposerOf(vs, e, r) === b) {
        const v = pick(values)
        const vr = r > 0 && rnd() < 0.5 ? randInt(0, r - 1) : -1
        transmit(j, { ...base, type: 'proposal', valueId: valueId(v), value: v, validRound: vr }, t)
      }
      transmit(j, { ...base, type: 'prevote', valueId: pick(candidates()) }, t)
      transmit(j, { ...base, type: 'precommit', valueId: pick(candidates()) }, t)
    }
    if (rnd() < 0.3) byzAct(b, e, r + randInt(1, 3), t)
  }
  const byzObserve = (b: string, m: Message<string>, t: number): void => {
    if (byz.get(b) === 'equivocate' && m.type === 'proposal') {
      const k = `${m.epoch}|${m.round}`
      const s = seen.get(k) ?? []
      if (!s.includes(m.valueId)) {
        s.push(m.valueId)
        seen.set(k, s)
        setsUpTo(m.epoch)
        if (sets[m.epoch]?.includes(b)) {
          const base = { epoch: m.epoch, round: m.round, from: b, valueId: m.valueId }
          for (const j of ids) {
            if (j === b || rnd() < 0.5) continue
            transmit(j, { ...base, type: 'prevote' }, t)
            transmit(j, { ...base, type: 'precommit' }, t)
          }
        }
      }
    }
    byzAct(b, m.epoch, m.round, t)
  }

  // --- run -----------------------------------------------------------------------------------------
  push({ kind: 'gst', t: cfg.gst })
  for (const node of nodes.values()) startEpoch(node)
  for (const b of byz.keys()) byzAct(b, 0, 0, 0)
  const allDone = (): boolean => [...nodes.values()].every((n) => n.next >= cfg.epochs)
  while (heap.size > 0 && !allDone()) {
    const ev = heap.pop() as unknown as ChainEv
    now = ev.t
    if (++res.events > maxEvents || now > maxTime) break
    if (ev.kind === 'gst') {
      res.roundAtGst = Math.max(0, ...[...nodes.values()].map((n) => n.tm?.round ?? 0))
      trace(`t=${now} GST (max honest round ${res.roundAtGst})`)
    } else if (ev.kind === 'timeout') {
      const node = nodes.get(ev.node)!
      if (node.tm !== undefined && node.next === ev.epoch) handle(node, node.tm.onTimeout({ step: ev.step, round: ev.round }))
    } else if (ev.kind === 'cert') {
      const node = nodes.get(ev.to)
      if (node === undefined) continue
      adopt(node, ev.cert)
      for (const j of honest) if (j !== ev.to) sendCert(j, ev.cert, now) // gossip
    } else if (isByz(ev.to)) {
      byzObserve(ev.to, ev.msg, now)
    } else {
      deliverTo(nodes.get(ev.to)!, ev.msg)
      for (const j of honest) if (j !== ev.to) transmit(j, ev.msg, now) // gossip
    }
  }
  res.endTime = now
  setsUpTo(cfg.epochs)
  res.sets = sets.slice(0, cfg.epochs)
  for (let e = 2; e < res.sets.length; e++) if (res.sets[e].join() !== res.sets[e - 1].join()) res.changes++
  // Every honest node derived the same sets from what it decided.
  for (const node of nodes.values()) {
    for (let e = 0; e < Math.min(node.view.length, res.sets.length); e++) {
      if (node.view[e] !== undefined && node.view[e].join() !== res.sets[e].join()) res.violations.push(`${node.id} has V(${e}) = [${node.view[e]}], the chain [${res.sets[e]}]`)
    }
  }
  for (let e = 0; e < res.sets.length; e++) {
    if (byzIn(res.sets[e]) > maxFaulty(res.sets[e].length)) res.violations.push(`harness: V(${e}) holds more than f byzantine validators`)
    if (res.sets[e].length < Math.min(4, cfg.n)) res.violations.push(`V(${e}) dropped below the floor`)
  }
  return res
}

/** Liveness bound of a chain: the epoch in progress at GST as in `livenessDeadline`, then one bound per later epoch. */
export function chainDeadline (cfg: ChainConfig, roundAtGst: number): number {
  const n = cfg.n + cfg.pool
  const first = livenessDeadline({ n, epoch: 0, seed: 0, gst: cfg.gst, maxPreGstDelay: 0, dropPct: 0, dupPct: 0, byzantine: [] }, roundAtGst)
  const each = livenessDeadline({ n, epoch: 0, seed: 0, gst: 0, maxPreGstDelay: 0, dropPct: 0, dupPct: 0, byzantine: [] }, 0) + 2 * DELTA
  return first + cfg.epochs * each
}
