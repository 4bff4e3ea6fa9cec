import type { ProofResponse } from '@ecandle/wire'

/**
 * Where an auditor gets its data: a hub over libp2p (AuditPeer), or anything else that answers
 * the same questions. Every answer is checked, never trusted.
 */
export interface AuditSource {
  /** Who answered (named in findings). */
  readonly peerId: string
  /** Certificates from epoch `from` on, in epoch order. */
  certificates: (from: number) => AsyncIterable<Uint8Array>
  /** Entries `from..to` of `hub`'s log (may stop early). */
  entries: (hub: string, from: number, to: number) => AsyncIterable<Uint8Array>
  /** An account's leaf and path; undefined when the epoch is not decided there. */
  proof: (epoch: number, account: string) => Promise<ProofResponse | undefined>
  /** Every leaf of an epoch's tree, in tree order. */
  leaves: (epoch: number) => Promise<Uint8Array[]>
  /** The resolutions a decided epoch's value names (governance sync protocol), as served. */
  resolutions: (epoch: number) => Promise<Uint8Array[]>
}
