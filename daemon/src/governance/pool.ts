import {
  approvalsNeeded, checkResolution, decodeCanonical, encode, GovernanceError, governanceLimits, ignore, isPlainObject, quorumOf, reject,
  resolutionIdOf, toHex, verifyApproval, verifyOperation, verifyResolution,
  type BuilderWeights, type EpochState, type VerifiedApproval, type VerifiedOperation, type VerifiedResolution
} from '@ecandle/protocol'

/**
 * The governance pool (docs/governance.md §11): operations, approvals and resolutions a hub holds
 * until a decided value takes them or they expire. Bounded by bytes; when full, what expires first
 * goes first (approvals of unknown operations before anything).
 */

/** A message of the governance topic: one of three canonical objects, told apart by their shape. */
export type GovMessage =
  | { kind: 'operation', id: string, bytes: Uint8Array, op: VerifiedOperation }
  | { kind: 'approval', id: string, bytes: Uint8Array, approval: VerifiedApproval }
  | { kind: 'resolution', id: string, bytes: Uint8Array, resolution: VerifiedResolution }

/**
 * Stateless checks of a governance message, each a REJECT: a resolution is `{ op, approvals }`, an
 * approval `{ p, s: signature bytes }`, an operation `{ p, s: { role: signature } }`; then that
 * object's own rules (`verifyResolution`, `verifyApproval`, `verifyOperation`).
 */
export function verifyGovMessage (networkId: string, bytes: Uint8Array): GovMessage {
  if (bytes.byteLength > governanceLimits.maxResolutionBytes) throw reject('gov-size', `governance message: ${bytes.byteLength} bytes`)
  let m: unknown
  try {
    m = decodeCanonical(bytes, 'governance message')
  } catch (err) {
    throw reject('gov-encoding', String((err as Error)?.message ?? err))
  }
  if (!isPlainObject(m)) throw reject('gov-shape', 'governance message: expected a map')
  if ('approvals' in m) {
    const r = verifyResolution(networkId, bytes)
    return { kind: 'resolution', id: r.id, bytes, resolution: r }
  }
  if (m.s instanceof Uint8Array) {
    const a = verifyApproval(networkId, bytes)
    return { kind: 'approval', id: a.id, bytes, approval: a }
  }
  const op = verifyOperation(networkId, bytes)
  return { kind: 'operation', id: op.id, bytes, op }
}

interface Item {
  op: VerifiedOperation
  approvals: Map<string, VerifiedApproval>
  resolutions: Map<string, VerifiedResolution>
  /** Assembled from op and approvals, by the approval ids it holds. */
  assembled?: { key: string, r: VerifiedResolution }
}

export interface PoolEntry {
  id: string
  type: string
  exp: number
  op: VerifiedOperation
  approvals: VerifiedApproval[]
  resolutions: string[]
}

/** What a stored message is kept under: its kind's letter and its id. */
export const poolKey = (m: Pick<GovMessage, 'kind' | 'id'>): string => `${m.kind[0]}:${m.id}`

const ORPHANS_MAX = 1024

export class GovPool {
  private readonly items = new Map<string, Item>()
  private readonly byResolution = new Map<string, VerifiedResolution>()
  /** Approvals whose operation is not (yet) here, oldest first. */
  private readonly orphans = new Map<string, VerifiedApproval>()
  private bytes = 0

  constructor (private readonly networkId: string, readonly maxBytes: number) {}

  get size (): number { return this.items.size }
  get heldBytes (): number { return this.bytes }

  /**
   * Admits a verified message on the newest state `latest` = S(N). IGNORE (never REJECT: these may
   * change as epochs pass, or are only stale): duplicates, expired or decided operations, a resolution
   * failing a rule of S(N), an approval no validator or builder of the operation could use, a full pool.
   * Returns the keys of messages evicted to make room (for the caller's store).
   */
  add (m: GovMessage, latest: EpochState, weights?: BuilderWeights): string[] {
    switch (m.kind) {
      case 'operation': return this.addOperation(m.op, latest)
      case 'approval': return this.addApproval(m.approval, latest)
      case 'resolution': {
        const r = m.resolution
        if (this.byResolution.has(r.id)) throw ignore('duplicate', `resolution ${r.id.slice(0, 12)} already held`)
        // With no approvals it is its operation alone, which we hold: nothing new.
        if (r.approvals.length === 0 && this.items.has(r.op.id)) throw ignore('duplicate', `resolution ${r.id.slice(0, 12)}: its operation is held`)
        try {
          checkResolution(latest, r, { weights })
        } catch (err) {
          if (err instanceof GovernanceError) throw ignore(err.code, err.message)
          throw err
        }
        const evicted = this.room(r.bytes.byteLength, r.op.op.exp)
        let item = this.items.get(r.op.id)
        if (item === undefined) item = this.insert(r.op)
        item.resolutions.set(r.id, r)
        this.byResolution.set(r.id, r)
        this.bytes += r.bytes.byteLength
        return evicted
      }
    }
  }

  private addOperation (op: VerifiedOperation, latest: EpochState): string[] {
    if (this.items.has(op.id)) throw ignore('duplicate', `operation ${op.id.slice(0, 12)} already held`)
    stale(op, latest)
    if (!approvalsNeeded(op.op.type).validators) {
      // Needs nothing but its signatures: its rules can be checked now.
      try {
        checkResolution(latest, { bytes: op.bytes, id: op.id, op, approvals: [] })
      } catch (err) {
        if (err instanceof GovernanceError) throw ignore(err.code, err.message)
        throw err
      }
    }
    const evicted = this.room(op.bytes.byteLength, op.op.exp)
    const item = this.insert(op)
    for (const [id, a] of this.orphans) {
      if (a.op !== op.id) continue
      this.orphans.delete(id)
      item.approvals.set(id, a)
    }
    return evicted
  }

  private addApproval (a: VerifiedApproval, latest: EpochState): string[] {
    const item = this.items.get(a.op)
    if (item?.approvals.has(a.id) === true || this.orphans.has(a.id)) throw ignore('duplicate', `approval ${a.id.slice(0, 12)} already held`)
    if (a.as === 'validator') {
      // Only a validator of the epoch deciding it (now or next) can use it.
      const k = toHex(a.by)
      const of = (s: EpochState['validators']): boolean => s.list.some(v => toHex(v.publicKey) === k)
      if (!of(latest.validators) && !of(latest.next)) throw ignore('approval-not-validator', `approval by ${k.slice(0, 12)}: not a validator of epoch ${latest.epoch} or ${latest.epoch + 1}`)
    }
    if (item !== undefined) {
      const need = approvalsNeeded(item.op.op.type)
      if (a.as === 'validator' ? !need.validators : !need.builders) throw ignore('approval-unexpected', `${item.op.op.type} takes no ${a.as} approvals`)
    }
    const evicted = this.room(a.bytes.byteLength, item?.op.op.exp ?? -1)
    this.bytes += a.bytes.byteLength
    if (item !== undefined) {
      item.approvals.set(a.id, a)
    } else {
      this.orphans.set(a.id, a)
      if (this.orphans.size > ORPHANS_MAX) {
        const [first] = this.orphans
        this.orphans.delete(first[0])
        this.bytes -= first[1].bytes.byteLength
        evicted.push(poolKey({ kind: 'approval', id: first[0] }))
      }
    }
    return evicted
  }

  private insert (op: VerifiedOperation): Item {
    const item: Item = { op, approvals: new Map(), resolutions: new Map() }
    this.items.set(op.id, item)
    this.bytes += op.bytes.byteLength
    return item
  }

  /** Makes room for `n` bytes of something expiring at `exp`: orphans first, then the earliest expiry. */
  private room (n: number, exp: number): string[] {
    const evicted: string[] = []
    while (this.bytes + n > this.maxBytes) {
      const [orphan] = this.orphans
      if (orphan !== undefined) {
        this.orphans.delete(orphan[0])
        this.bytes -= orphan[1].bytes.byteLength
        evicted.push(poolKey({ kind: 'approval', id: orphan[0] }))
        continue
      }
      let first: Item | undefined
      for (const it of this.items.values()) if (first === undefined || it.op.op.exp < first.op.op.exp) first = it
      if (first === undefined || first.op.op.exp >= exp) throw ignore('pool-full', `governance pool full (${this.bytes} bytes); nothing expires before epoch ${exp}`)
      evicted.push(...this.drop(first))
    }
    return evicted
  }

  private drop (it: Item): string[] {
    this.items.delete(it.op.id)
    const keys = [poolKey({ kind: 'operation', id: it.op.id })]
    this.bytes -= it.op.bytes.byteLength
    for (const [id, a] of it.approvals) { keys.push(poolKey({ kind: 'approval', id })); this.bytes -= a.bytes.byteLength }
    for (const [id, r] of it.resolutions) { keys.push(poolKey({ kind: 'resolution', id })); this.bytes -= r.bytes.byteLength; this.byResolution.delete(id) }
    if (it.assembled !== undefined) this.byResolution.delete(it.assembled.r.id)
    return keys
  }

  /** Forgets what `latest` = S(N) has decided or what has expired; returns the keys dropped. */
  prune (latest: EpochState): string[] {
    const out: string[] = []
    for (const it of [...this.items.values()]) {
      if (it.op.op.exp < latest.epoch || latest.recent.has(it.op.id)) out.push(...this.drop(it))
    }
    return out
  }

  /** A resolution held (received or assembled here), by id. */
  resolution (id: string): VerifiedResolution | undefined { return this.byResolution.get(id) }

  /**
   * Every resolution this hub could propose on `s` = S(E): those received, and for each operation
   * one assembled from the approvals held — validators' yes of V(E) (one per key) when it needs more
   * than 2/3 of them, and builders with weight (one per key) for a params change. What passes is for
   * `selectResolutions` to decide.
   */
  candidates (s: EpochState, weights?: BuilderWeights): VerifiedResolution[] {
    const out: VerifiedResolution[] = []
    const validatorKeys = new Set(s.validators.list.map(v => toHex(v.publicKey)))
    for (const it of this.items.values()) {
      const { op } = it
      if (op.op.exp < s.epoch || s.recent.has(op.id)) continue
      out.push(...it.resolutions.values())
      const need = approvalsNeeded(op.op.type)
      const chosen = new Map<string, VerifiedApproval>()
      for (const a of [...it.approvals.values()].sort((x, y) => x.id < y.id ? -1 : 1)) {
        const who = `${a.as}:${toHex(a.by)}`
        if (chosen.has(who)) continue
        if (a.as === 'validator' && (!need.validators || !a.yes || !validatorKeys.has(toHex(a.by)))) continue
        if (a.as === 'builder' && (!need.builders || weights === undefined || weights.weightOf(toHex(a.by)) <= 0n)) continue
        chosen.set(who, a)
      }
      const yes = [...chosen.values()].filter(a => a.as === 'validator').length
      if (need.validators && yes < quorumOf(s.validators.ids.length)) continue
      const approvals = [...chosen.values()].sort((x, y) => x.id < y.id ? -1 : 1)
      const key = approvals.map(a => a.id).join(',')
      if (it.assembled?.key !== key) {
        // The operation and every approval were verified when they came: the resolution is only encoded
        // (as encodeResolution does, approvals ascending by id), not verified again.
        const bytes = encode({ op: op.bytes, approvals: approvals.map(a => a.bytes) })
        if (it.assembled !== undefined) this.byResolution.delete(it.assembled.r.id)
        it.assembled = { key, r: { bytes, id: resolutionIdOf(bytes), op, approvals } }
        this.byResolution.set(it.assembled.r.id, it.assembled.r)
      }
      out.push(it.assembled.r)
    }
    return out
  }

  /** Everything held, by operation (for `gov list`). */
  entries (): PoolEntry[] {
    return [...this.items.values()].map(it => ({
      id: it.op.id, type: it.op.op.type, exp: it.op.op.exp, op: it.op, approvals: [...it.approvals.values()], resolutions: [...it.resolutions.keys()]
    }))
  }

  operation (id: string): VerifiedOperation | undefined { return this.items.get(id)?.op }

  /** The approvals held for operation `id`. */
  approvalsOf (id: string): VerifiedApproval[] { return [...(this.items.get(id)?.approvals.values() ?? [])] }
}

/** IGNORE an operation that can no longer be decided (expired or decided already) or not yet (exp too far). */
function stale (op: VerifiedOperation, s: EpochState): void {
  const what = `${op.op.type} ${op.id.slice(0, 12)}`
  if (op.op.exp < s.epoch) throw ignore('op-expired', `${what}: expired at epoch ${op.op.exp}`)
  if (s.recent.has(op.id)) throw ignore('op-already-decided', `${what}: already decided`)
  if (op.op.exp > s.epoch + s.opLifetimeEpochs) throw ignore('op-exp-too-far', `${what}: exp ${op.op.exp} is more than ${s.opLifetimeEpochs} epochs ahead`)
}
