import {
  admissionLookup, carriedTally, checkContinuationLink, CID, followValue, genesisState as genesisNetworkState, ProtocolError, tallyDevicesAt, tallyParamsAt,
  ValidationError, validatorsAt, verifyCertificate, verifyContinuation, verifyEntryAsync, type EpochState, type Network, type VerifiedCertificate, type VerifiedEntry
} from '@ecandle/protocol'
import {
  builderWeights, diffLeaves, restoreFromLeaves, segmentRows, tally, tallyLeaves, verifyAccountProof, type SegmentReport, type TallyResult, type TallyState
} from '@ecandle/tally'
import { withBatchVerify } from '@ecandle/crypto'
import type { AuditSource } from './source.js'
import type { Finding, Progress } from './findings.js'

export interface CertificateAudit {
  /** Certificates that passed, in epoch order (the chain from epoch 0, unbroken). */
  verified: VerifiedCertificate[]
  /**
   * The network state in force during each epoch, derived from genesis and the certified governance:
   * `states[e]` for every verified epoch e, and one more (the state after the last).
   */
  states: EpochState[]
  findings: Finding[]
}

export interface AccountEpoch {
  epoch: number
  root: string
  /** null: the peer had no leaf for the account in this epoch (nothing earned so far). */
  amount: bigint | null
  cumulative: bigint | null
}

export interface AccountAudit { account: string, epochs: AccountEpoch[], findings: Finding[] }

export interface EpochAudit {
  epoch: number
  root: string
  entries: number
  reports: number
  counted: number
  recomputedRoot: string | null
  totals?: TallyResult['totals']
  findings: Finding[]
}

const short = (s: string): string => s.length > 16 ? `${s.slice(0, 12)}…` : s
/** Entries whose signatures are being checked while the one before them is looked at. */
const VERIFY_AHEAD = 4

/**
 * Audits what hubs decided, trusting nothing but the network file: certificates are checked
 * against the validator set and linked epoch to epoch; every other byte a peer serves is checked
 * against a certificate and the signatures inside it.
 */
export class Auditor {
  private states: EpochState[] = []

  constructor (private readonly net: Network, private readonly peer: AuditSource, private readonly progress: Progress = () => {}) {}

  /**
   * Follows certificates from epoch 0: each must verify against the validators of its epoch (quorum of
   * distinct validators, good signatures), be for the next epoch, name the previous decision's value id,
   * cut no log shorter than the cut before, and carry governance that follows from the state it names
   * (its resolutions, fetched from the peer, pass every rule and lead to the `next` it names). The
   * validator set and registry of each epoch come from genesis and the decided resolutions alone.
   * Stops at the first one that fails (later ones cannot be linked).
   */
  async certificates (): Promise<CertificateAudit> {
    const verified: VerifiedCertificate[] = []
    const states: EpochState[] = [genesisNetworkState(this.net)]
    const findings: Finding[] = []
    const peer = this.peer.peerId
    for await (const bytes of this.peer.certificates(0)) {
      const expected = verified.length
      const s = states[expected]
      let cert: VerifiedCertificate
      let asked: number | undefined
      try {
        // One batch of signature checks (parallel WebCrypto in a browser; a plain call in Node).
        cert = await withBatchVerify(() => verifyCertificate(this.net, bytes, (e) => { asked = e; return validatorsAt(s, e) }))
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err
        // A certificate of an epoch whose validators we do not know is one served out of turn.
        if (err.code === 'unknown-validator-set' && asked !== undefined) {
          findings.push({ kind: 'chain', epoch: asked, code: 'epoch-order', message: `certificate of epoch ${asked} served where epoch ${expected} was due` })
          break
        }
        findings.push({ kind: 'certificate', epoch: expected, code: err.code, message: `certificate #${expected + 1} served by ${peer} (epoch ${expected} expected): ${err.message}` })
        break
      }
      const e = cert.value.epoch
      const prev = verified[verified.length - 1]
      // Epochs are decided one after another from 0: a skipped or repeated epoch breaks the chain.
      if (e !== expected) {
        findings.push({ kind: 'chain', epoch: e, code: 'epoch-order', message: `certificate of epoch ${e} served where epoch ${expected} was due` })
        break
      }
      // Each decision names the one before it, so a peer cannot splice certificates of two histories.
      const wantPrev = prev === undefined ? null : prev.valueId
      if (cert.value.prev !== wantPrev) {
        findings.push({ kind: 'chain', epoch: e, code: 'prev-mismatch', message: `certificate of epoch ${e}: prev is ${String(cert.value.prev)}, but epoch ${e - 1} decided ${String(wantPrev)}` })
        break
      }
      // Logs only grow: a cut may not take back entries an earlier epoch already counted (hubs matched by id: the set may change).
      const now = new Map(cert.value.cut.map(c => [c.hub, c.seq]))
      const back = prev?.value.cut.find(c => (now.get(c.hub) ?? c.seq) < c.seq)
      if (back !== undefined) {
        findings.push({ kind: 'chain', epoch: e, hub: back.hub, code: 'cut-backwards', message: `certificate of epoch ${e}: cut of hub ${back.hub} goes back from #${back.seq}` })
        break
      }
      let next: EpochState
      try {
        const resolutions = cert.value.gov.length === 0 ? [] : await this.peer.resolutions(e)
        next = followValue(s, cert.value, resolutions).next
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err
        findings.push({ kind: 'governance', epoch: e, code: err.code, message: `epoch ${e}: the governance of the certified value (resolutions served by ${peer}): ${err.message}` })
        break
      }
      verified.push(cert)
      states.push(next)
      this.progress('certificates', verified.length, verified.length)
    }
    this.states = states
    return { verified, states, findings }
  }

  /**
   * Checks one account's reward in every certified epoch: the peer's leaf and path must hash to the
   * certified root, name this account and epoch, and add up (cumulative = previous + amount).
   */
  async account (account: string, certs: readonly VerifiedCertificate[]): Promise<AccountAudit> {
    const epochs: AccountEpoch[] = []
    const findings: Finding[] = []
    // A continued network starts from the totals it carried over (docs/governance.md §8).
    let cumulative = carriedTally(this.net).cumulative.get(account) ?? 0n
    for (const cert of certs) {
      const e = cert.value.epoch
      const root = cert.value.root
      const proof = await this.peer.proof(e, account)
      this.progress('proofs', epochs.length + 1, certs.length)
      if (proof === undefined) {
        findings.push({ kind: 'proof', epoch: e, account, code: 'no-answer', message: `epoch ${e}: ${this.peer.peerId} served no proof for account ${account} although it served the certificate` })
        continue
      }
      if (proof.leaf === null) {
        // Every account with a balance has a leaf in every later epoch; only "never earned" may lack one.
        if (cumulative > 0n) findings.push({ kind: 'proof', epoch: e, account, code: 'missing-leaf', message: `epoch ${e}: no leaf for account ${account}, which had earned ${cumulative} by epoch ${e - 1}` })
        epochs.push({ epoch: e, root, amount: null, cumulative: null })
        continue
      }
      const leaf = verifyAccountProof({ leaf: proof.leaf, path: proof.path, root }, root)
      if (leaf === undefined) {
        findings.push({ kind: 'proof', epoch: e, account, code: 'proof-invalid', message: `epoch ${e}: the proof served for account ${account} does not hash to the certified root ${root}` })
        continue
      }
      if (leaf.account !== account || leaf.epoch !== e) {
        findings.push({ kind: 'proof', epoch: e, account, code: 'wrong-leaf', message: `epoch ${e}: the proof served for account ${account} proves the leaf of account ${leaf.account}, epoch ${leaf.epoch}` })
        continue
      }
      if (leaf.cumulative !== cumulative + leaf.amount) {
        findings.push({ kind: 'proof', epoch: e, account, code: 'cumulative', message: `epoch ${e}: account ${account} has cumulative ${leaf.cumulative}, but ${cumulative} + ${leaf.amount} = ${cumulative + leaf.amount}` })
      }
      cumulative = leaf.cumulative
      epochs.push({ epoch: e, root, amount: leaf.amount, cumulative: leaf.cumulative })
    }
    return { account, epochs, findings }
  }

  /**
   * Re-derives epoch `cert`'s tally from nothing but signed data: the state carried in (the previous
   * epoch's leaves, checked against its certified root), every entry of every hub between the two
   * cuts (hub signature, report signatures, hash chain, cut ids), then the tally itself with the
   * registry and parameters in force during the epoch (from `certificates()`), and the builders'
   * weights behind any parameter change the epoch decided.
   */
  async epochFull (cert: VerifiedCertificate, prevCert: VerifiedCertificate | undefined): Promise<EpochAudit> {
    const e = cert.value.epoch
    const out: EpochAudit = { epoch: e, root: cert.value.root, entries: 0, reports: 0, counted: 0, recomputedRoot: null, findings: [] }
    const state = this.states[e] ?? (e === 0 ? genesisNetworkState(this.net) : undefined)
    if (state === undefined) throw new Error(`epoch ${e}: run certificates() first (the registry in force comes from the certified chain)`)
    let prev: TallyState = carriedTally(this.net)
    if (e > 0) {
      if (prevCert === undefined || prevCert.value.epoch !== e - 1) throw new Error(`epoch ${e}: the certificate of epoch ${e - 1} is needed`)
      const leaves = await this.peer.leaves(e - 1)
      try {
        prev = restoreFromLeaves(e - 1, leaves, prevCert.value.root).state
      } catch (err: any) {
        out.findings.push({ kind: 'leaves', epoch: e - 1, code: 'leaves-invalid', message: `epoch ${e - 1} leaves served by ${this.peer.peerId}: ${String(err?.message ?? err)}` })
        return out
      }
    }
    if (cert.value.gov.length > 0) {
      // The builders' voice: weights are the cumulative totals after the epoch before, now known.
      try {
        followValue(state, cert.value, await this.peer.resolutions(e), { weights: builderWeights(prev) })
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err
        out.findings.push({ kind: 'governance', epoch: e, code: err.code, message: `epoch ${e}: ${err.message}` })
      }
    }
    // Entries are admitted as hubs admit them, knowing everything decided up to this epoch.
    const lookup = admissionLookup(this.states[e + 1] ?? state)
    const prevCut = new Map((prevCert?.value.cut ?? []).map(c => [c.hub, c]))
    const fromOf = (hub: string): { hub: string, seq: number, id: CID | null } => prevCut.get(hub) ?? { hub, seq: 0, id: null }
    const segment: SegmentReport[] = []
    const total = cert.value.cut.reduce((n, c) => n + c.seq - fromOf(c.hub).seq, 0)
    for (const to of cert.value.cut) {
      const ok = await this.segmentOf(e, fromOf(to.hub), to, segment, out, total, lookup)
      if (!ok) return out
    }
    const result = tally({ epoch: e, params: tallyParamsAt(state), devices: tallyDevicesAt(this.net, state), segment, prev, equivocated: new Set() })
    out.recomputedRoot = result.root
    out.totals = result.totals
    out.counted = result.statuses.filter(s => s.status === 'counted').length
    if (result.root === cert.value.root) return out
    // Name what differs: the peer's leaves, if they hash to the certified root, are what was signed.
    const theirs = await this.peer.leaves(e).catch(() => [])
    let signed: Uint8Array[] | undefined
    try {
      restoreFromLeaves(e, theirs, cert.value.root)
      signed = theirs
    } catch {}
    const base = `epoch ${e}: recomputed root ${result.root} ≠ certified root ${cert.value.root}`
    if (signed === undefined) {
      out.findings.push({ kind: 'tally', epoch: e, code: 'root-mismatch', message: `${base} (the peer served no leaf set for the certified root, so the differing leaves cannot be named)` })
    } else {
      for (const d of diffLeaves(tallyLeaves(result), signed)) {
        out.findings.push({ kind: 'tally', epoch: e, code: 'root-mismatch', leaf: d.leaf, message: `${base}: ${d.leaf}: recomputed ${JSON.stringify(d.ours)}, certified ${JSON.stringify(d.theirs)}` })
      }
    }
    return out
  }

  /**
   * Checks, on the network this auditor follows, that network `next` continues it faithfully
   * (docs/governance.md §8): `next`'s file proves itself (endorsements, validators, state hash), it names
   * the certificate of its epoch in `certs` (this network's verified chain), and the dust and every
   * account's total it carries are what that epoch's certified leaves say. An account's history then
   * spans both networks: its cumulative total at the old epoch is where the new network starts.
   */
  async continuation (next: Network, certs: readonly VerifiedCertificate[]): Promise<Finding[]> {
    const findings: Finding[] = []
    const c = next.def.continues
    const fail = (epoch: number, err: unknown): Finding[] => {
      if (!(err instanceof ValidationError)) throw err
      findings.push({ kind: 'continuation', epoch, code: err.code, message: `network ${next.id} continuing ${this.net.id}: ${err.message}` })
      return findings
    }
    if (c === undefined || c.network !== this.net.id) {
      findings.push({ kind: 'continuation', epoch: -1, code: 'not-continued', message: `network ${next.id} does not continue network ${this.net.id}` })
      return findings
    }
    try {
      verifyContinuation(next)
    } catch (err) { return fail(c.epoch, err) }
    const cert = certs.find(x => x.value.epoch === c.epoch)
    if (cert === undefined) {
      findings.push({ kind: 'continuation', epoch: c.epoch, code: 'carried-epoch', message: `epoch ${c.epoch}, which network ${next.id} continues from, is not certified by ${this.peer.peerId}` })
      return findings
    }
    try {
      checkContinuationLink(next, cert)
    } catch (err) { return fail(c.epoch, err) }
    let carried: TallyState
    try {
      carried = restoreFromLeaves(c.epoch, await this.peer.leaves(c.epoch), cert.value.root).state
    } catch (err: any) {
      findings.push({ kind: 'leaves', epoch: c.epoch, code: 'leaves-invalid', message: `epoch ${c.epoch} leaves served by ${this.peer.peerId}: ${String(err?.message ?? err)}` })
      return findings
    }
    const claimed = carriedTally(next)
    if (claimed.dust !== carried.dust) findings.push({ kind: 'continuation', epoch: c.epoch, code: 'carried-tally', message: `network ${next.id} carries dust ${claimed.dust}; epoch ${c.epoch} left ${carried.dust}` })
    for (const account of new Set([...claimed.cumulative.keys(), ...carried.cumulative.keys()])) {
      const a = claimed.cumulative.get(account) ?? 0n
      const b = carried.cumulative.get(account) ?? 0n
      if (a !== b) findings.push({ kind: 'continuation', epoch: c.epoch, account, code: 'carried-tally', message: `network ${next.id} carries ${a} for account ${account}; epoch ${c.epoch} certified ${b}` })
    }
    return findings
  }

  /** Fetches and checks one hub's entries from cut `from` to cut `to`; false when the chain is broken. */
  private async segmentOf (e: number, from: { hub: string, seq: number, id: CID | null }, to: { hub: string, seq: number, id: CID | null }, segment: SegmentReport[], out: EpochAudit, total: number, lookup: ReturnType<typeof admissionLookup>): Promise<boolean> {
    const hub = to.hub
    if (to.seq === from.seq) return true
    const fail = (seq: number, code: string, message: string): false => {
      out.findings.push({ kind: code === 'cut-id' ? 'cut' : 'entry', epoch: e, hub, seq, code, message: `epoch ${e}: hub ${hub} entry #${seq} (served by ${this.peer.peerId}): ${message}` })
      return false
    }
    // Start at the previous cut's entry (when there is one) to check that the segment links to it.
    let expect = Math.max(1, from.seq)
    let last: VerifiedEntry | undefined
    const now = Date.now()
    // Entries are verified ahead of the checks below (signatures on worker threads, every core);
    // results are taken in order, so findings are what a one-by-one pass would give.
    const ahead: Array<Promise<VerifiedEntry | { err: unknown }>> = []
    const take = async (): Promise<boolean> => {
      const v = await ahead.shift()
      if (v === undefined) return true
      if ('err' in v) {
        if (!(v.err instanceof ValidationError)) throw v.err
        return fail(expect, v.err.code, v.err.message)
      }
      const p = v.payload
      if (p.hub !== hub || p.seq !== expect) return fail(expect, 'wrong-entry', `got entry ${short(p.hub)}#${p.seq} instead`)
      if (p.seq === from.seq) {
        if (from.id === null || !v.id.equals(from.id)) return fail(p.seq, 'cut-id', `id ${v.id.toString()} is not ${String(from.id)}, the id epoch ${e - 1}'s cut names`)
      } else {
        // Hash chain: each entry names the one before it.
        if (last !== undefined && (p.prev === null || !p.prev.equals(last.id))) return fail(p.seq, 'chain', `prev ${String(p.prev)} is not entry #${last.payload.seq} (${last.id.toString()})`)
        if (last !== undefined && p.time < last.payload.time) return fail(p.seq, 'time-backwards', 'time before the previous entry')
        // An entry in the segment must be stamped no later than the epoch it is counted in.
        if (p.epoch > e) return fail(p.seq, 'entry-epoch', `stamped epoch ${p.epoch}, after epoch ${e}`)
        segment.push(...segmentRows(hub, p.seq, v.reports))
        out.entries++
        out.reports += v.reports.length
        this.progress('entries', out.entries, total)
      }
      last = v
      expect++
      return true
    }
    for await (const bytes of this.peer.entries(hub, expect, to.seq)) {
      ahead.push(verifyEntryAsync(this.net, bytes, now, undefined, lookup).catch(err => ({ err })))
      if (ahead.length >= VERIFY_AHEAD && !(await take())) return false
    }
    while (ahead.length > 0) if (!(await take())) return false
    if (last === undefined || last.payload.seq !== to.seq) return fail(expect, 'missing', `not served (the cut of epoch ${e} ends at #${to.seq})`)
    if (to.id === null || !last.id.equals(to.id)) return fail(to.seq, 'cut-id', `id ${last.id.toString()} is not ${String(to.id)}, the id the certificate's cut names`)
    return true
  }
}
