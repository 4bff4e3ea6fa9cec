import {
  CID, ProtocolError, ValidationError, verifyCertificate, verifyEntry, type Network, type VerifiedCertificate, type VerifiedEntry
} from '@ecandle/protocol'
import {
  diffLeaves, genesisState, restoreFromLeaves, segmentRows, tally, tallyDevices, tallyLeaves, tallyParams, verifyAccountProof,
  type SegmentReport, type TallyResult, type TallyState
} from '@ecandle/tally'
import type { AuditSource } from './source.js'
import type { Finding, Progress } from './findings.js'

export interface CertificateAudit {
  /** Certificates that passed, in epoch order (the chain from epoch 0, unbroken). */
  verified: VerifiedCertificate[]
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

/**
 * Audits what hubs decided, trusting nothing but the network file: certificates are checked
 * against the validator set and linked epoch to epoch; every other byte a peer serves is checked
 * against a certificate and the signatures inside it.
 */
export class Auditor {
  constructor (private readonly net: Network, private readonly peer: AuditSource, private readonly progress: Progress = () => {}) {}

  /**
   * Follows certificates from epoch 0: each must verify (quorum of distinct validators, good
   * signatures), be for the next epoch, name the previous decision's value id, and cut no log
   * shorter than the cut before. Stops at the first one that fails (later ones cannot be linked).
   */
  async certificates (): Promise<CertificateAudit> {
    const verified: VerifiedCertificate[] = []
    const findings: Finding[] = []
    const peer = this.peer.peerId
    for await (const bytes of this.peer.certificates(0)) {
      const expected = verified.length
      let cert: VerifiedCertificate
      try {
        cert = verifyCertificate(this.net, bytes)
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err
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
      // Logs only grow: a cut may not take back entries an earlier epoch already counted.
      const back = prev?.value.cut.find((c, i) => cert.value.cut[i].seq < c.seq)
      if (back !== undefined) {
        findings.push({ kind: 'chain', epoch: e, hub: back.hub, code: 'cut-backwards', message: `certificate of epoch ${e}: cut of hub ${back.hub} goes back from #${back.seq}` })
        break
      }
      verified.push(cert)
      this.progress('certificates', verified.length, verified.length)
    }
    return { verified, findings }
  }

  /**
   * Checks one account's reward in every certified epoch: the peer's leaf and path must hash to the
   * certified root, name this account and epoch, and add up (cumulative = previous + amount).
   */
  async account (account: string, certs: readonly VerifiedCertificate[]): Promise<AccountAudit> {
    const epochs: AccountEpoch[] = []
    const findings: Finding[] = []
    let cumulative = 0n
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
   * cuts (hub signature, report signatures, hash chain, cut ids), then the tally itself.
   */
  async epochFull (cert: VerifiedCertificate, prevCert: VerifiedCertificate | undefined): Promise<EpochAudit> {
    const e = cert.value.epoch
    const out: EpochAudit = { epoch: e, root: cert.value.root, entries: 0, reports: 0, counted: 0, recomputedRoot: null, findings: [] }
    let prev: TallyState = { ...genesisState(), epoch: e - 1 }
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
    const segment: SegmentReport[] = []
    const total = cert.value.cut.reduce((n, c, i) => n + c.seq - (prevCert?.value.cut[i].seq ?? 0), 0)
    for (let i = 0; i < cert.value.cut.length; i++) {
      const from = prevCert?.value.cut[i] ?? { hub: cert.value.cut[i].hub, seq: 0, id: null }
      const ok = await this.segmentOf(e, from, cert.value.cut[i], segment, out, total)
      if (!ok) return out
    }
    const result = tally({ epoch: e, params: tallyParams(this.net), devices: tallyDevices(this.net), segment, prev, equivocated: new Set() })
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

  /** Fetches and checks one hub's entries from cut `from` to cut `to`; false when the chain is broken. */
  private async segmentOf (e: number, from: { hub: string, seq: number, id: CID | null }, to: { hub: string, seq: number, id: CID | null }, segment: SegmentReport[], out: EpochAudit, total: number): Promise<boolean> {
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
    for await (const bytes of this.peer.entries(hub, expect, to.seq)) {
      let v: VerifiedEntry
      try {
        v = verifyEntry(this.net, bytes, now)
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err
        return fail(expect, err.code, err.message)
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
    }
    if (last === undefined || last.payload.seq !== to.seq) return fail(expect, 'missing', `not served (the cut of epoch ${e} ends at #${to.seq})`)
    if (to.id === null || !last.id.equals(to.id)) return fail(to.seq, 'cut-id', `id ${last.id.toString()} is not ${String(to.id)}, the id the certificate's cut names`)
    return true
  }
}
