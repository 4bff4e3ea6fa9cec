/** What an audit found wrong, precise enough to act on: which certificate, hub, entry, report or leaf. */
export type FindingKind =
  | 'certificate' // a certificate that fails the quorum rules
  | 'chain' // certificates that do not link epoch to epoch
  | 'proof' // a reward proof that does not verify against the certified root
  | 'entry' // a log entry that fails verification, or breaks its hub's hash chain
  | 'cut' // a log that does not end where the certificate's cut says
  | 'leaves' // a leaf set that does not hash to the certified root
  | 'tally' // a recomputed tally that differs from the certified one
  | 'governance' // resolutions that do not match, or break a rule of, the certified value (docs/governance.md)
  | 'continuation' // a continued network that does not carry the old network's certified state

export interface Finding {
  kind: FindingKind
  epoch: number
  /** The rule's code (e.g. duplicate-signer, entry-signature, root-mismatch). */
  code: string
  message: string
  hub?: string
  seq?: number
  account?: string
  /** 'account <id>', 'device <id>' or 'summary', for tally differences. */
  leaf?: string
}

/** Progress of a long audit: `done` of `total` units of `stage`. */
export type Progress = (stage: string, done: number, total: number) => void

export class AuditAborted extends Error {
  override name = 'AuditAborted'
}
