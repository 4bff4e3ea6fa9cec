import type { VoteMsg } from '@ecandle/consensus'
import {
  decodeCanonical, encodeCertificate, genesisValidators, expectBytes, expectMap, ProtocolError, reject, signConsensus, ValidationError, verifyCertificate,
  type EpochValue, type Network, type Signer, type ValidatorSet, type ValidatorsFor, type VerifiedCertificate
} from '@ecandle/protocol'
import { certificatesProtocol, handle, type CallOptions, type Served } from '@ecandle/wire'
import type { HubNode } from '@ecandle/net'
import type { Logger } from 'pino'
import type { CertificateRepository } from '../db/index.js'

/** Where catch-up fetches certificates: connected peers, one page at a time (unverified). */
export interface CertificatePeers {
  peers: () => string[]
  page: (peer: string, from: number, opts: CallOptions) => Promise<Uint8Array[]>
}

export interface CertificateServiceComponents {
  net: Network
  self: string
  signer: Signer
  repo: CertificateRepository
  peers: CertificatePeers
  /** Serves the certificates protocol when given. */
  node?: Pick<HubNode, 'handle' | 'unhandle'>
  logger: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>
  /** The validators of an epoch (the governance chain's); default the network file's. */
  validators?: ValidatorsFor
}

/** Epochs ahead of ours whose certificates are kept until we get there. */
const MAX_CANDIDATE_EPOCHS = 64

/** Recent epochs whose certificates are compared with a peer after each decision (reconcile). */
export const RECONCILE_EPOCHS = 16

/** Canonical order of two certificates of one value: lowest round, then lowest signer indices. */
export function certOrder (c: VerifiedCertificate): string {
  return String(c.round).padStart(8, '0') + ':' + c.signatures.map(([i]) => String(i).padStart(4, '0')).join(',')
}

/**
 * Certificates: assembled from a decision's precommits, verified once on receipt (a stored certificate
 * is never verified again), kept in their canonical copy, served by the certificates protocol, and
 * fetched from peers to catch up.
 */
export class CertificateService {
  /**
   * Valid certificates we could not adopt when they came (epoch ahead of ours, or entries missing):
   * the lowest copy per epoch. Every decider gossips its own copy once, so a copy ignored now would
   * never be seen again; the agreement commits the canonical one of these and its own.
   */
  private readonly candidates = new Map<number, VerifiedCertificate>()
  private served?: Served
  private catching = false
  private reconciling = false
  private turn = 0

  constructor (private readonly c: CertificateServiceComponents) {}

  async start (signal: AbortSignal): Promise<void> {
    if (this.c.node === undefined) return
    this.served = await handle(this.c.node, this.c.net.id, certificatesProtocol,
      ({ from, limit }) => this.c.repo.bytesFrom(from, limit), { logger: this.c.logger, signal })
  }

  async stop (): Promise<void> {
    await this.served?.close()
    this.served = undefined
    this.candidates.clear()
  }

  /** The canonical certificate of a decision, from its precommits (more than 2/3, validator order). */
  assemble (value: EpochValue, round: number, precommits: readonly VoteMsg[], set?: ValidatorSet): VerifiedCertificate {
    const { net, self, signer } = this.c
    const validators = set ?? genesisValidators(net)
    const signatures: Array<[number, Uint8Array]> = []
    for (const pc of precommits) {
      // Our own precommit may be decided on before its signed copy came back: sign it now
      // (Ed25519 is deterministic, so these are the very bytes we broadcast).
      const signed = pc.signature instanceof Uint8Array
        ? pc.signature
        : pc.from === self ? signConsensus(net, signer, { type: 'precommit', epoch: pc.epoch, round: pc.round, from: pc.from, valueId: pc.valueId }) : undefined
      if (signed === undefined) continue
      const env = expectMap(decodeCanonical(signed, 'vote'), 'vote', ['p', 's'])
      signatures.push([validators.ids.indexOf(pc.from), expectBytes(env.s, 'vote.s', 64, 64)])
    }
    return verifyCertificate(net, encodeCertificate(net, { value, round, signatures }, validators), validators)
  }

  /** A certificate from a peer: verified here, once. REJECT naming the fault. */
  verify (bytes: Uint8Array): VerifiedCertificate {
    return verifyCertificate(this.c.net, bytes, this.c.validators)
  }

  /** Keeps a valid certificate of an epoch ahead (`next` is the epoch we decide next). */
  keepCandidate (cert: VerifiedCertificate, next: number): void {
    const e = cert.value.epoch
    if (e < next || e > next + MAX_CANDIDATE_EPOCHS) return
    const had = this.candidates.get(e)
    if (had === undefined || (had.valueId === cert.valueId && certOrder(cert) < certOrder(had))) this.candidates.set(e, cert)
  }

  /** The copy to store for a decision: a kept candidate of the same value if it is more canonical. */
  canonical (decided: VerifiedCertificate): VerifiedCertificate {
    const alt = this.candidates.get(decided.value.epoch)
    return alt !== undefined && alt.valueId === decided.valueId && certOrder(alt) < certOrder(decided) ? alt : decided
  }

  /** Forget candidates up to `epoch` (decided). */
  decided (epoch: number): void {
    for (const e of [...this.candidates.keys()]) if (e <= epoch) this.candidates.delete(e)
  }

  /**
   * A certificate of an epoch we decided: keeps the canonical copy (lowest round, then lowest signer
   * indices); true when it is to be forwarded. Hubs build byte-identical certificates, and one a hub
   * ignores would never reach light peers behind it (its own publish of the same bytes is dropped as a
   * duplicate once a peer's copy was seen), so the canonical certificate of the last epoch is accepted.
   */
  async known (cert: VerifiedCertificate, last: number): Promise<boolean> {
    const epoch = cert.value.epoch
    const mine = await this.c.repo.get(epoch)
    if (mine === undefined) return false
    if (mine.valueId !== cert.valueId) {
      this.c.logger.error({ epoch, ours: mine.valueId, theirs: cert.valueId }, 'two certificates for one epoch')
      throw reject('conflicting-certificate', `epoch ${epoch}: certificate for another value`)
    }
    const better = certOrder(cert) < certOrder(mine)
    if (better) await this.c.repo.put(epoch, cert, { sync: true })
    return epoch === last && (better || Buffer.compare(cert.bytes, mine.bytes) === 0)
  }

  /**
   * Hubs converge on one byte-identical certificate per epoch only if each sees the canonical copy,
   * and a hub paused or cut off while it went by keeps its own copy for good: gossip forwards only
   * the last epoch's, and catching up fetches only epochs not decided yet. So after each decision one
   * connected peer in turn is asked for its certificates of the last RECONCILE_EPOCHS epochs up to
   * `last`; a copy with the same bytes as ours costs nothing, another is verified and handed to
   * `keep` (which stores it if it is more canonical, `known`). One exchange at a time.
   */
  async reconcile (last: number, keep: (cert: VerifiedCertificate) => Promise<unknown>, opts: CallOptions = {}): Promise<void> {
    const peers = this.c.peers.peers()
    if (this.reconciling || peers.length === 0) return
    this.reconciling = true
    try {
      const from = Math.max(0, last - RECONCILE_EPOCHS + 1)
      const peer = peers[this.turn++ % peers.length]
      const ours = new Set<string>()
      for await (const b of this.c.repo.bytesFrom(from, RECONCILE_EPOCHS)) ours.add(Buffer.from(b).toString('base64'))
      for (const bytes of await this.c.peers.page(peer, from, opts)) {
        if (ours.has(Buffer.from(bytes).toString('base64'))) continue
        try {
          const cert = this.verify(bytes)
          if (cert.value.epoch > last) break // ahead of us: the catch-up's business
          await keep(cert)
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err
          this.c.logger.debug({ peer, err: err.message }, 'reconcile: certificate not kept')
        }
      }
    } finally {
      this.reconciling = false
    }
  }

  /**
   * Fetches the certificates from epoch `from()` on from connected peers, verifies each and hands it to
   * `adopt` in order; stops at the first peer that served any. One catch-up at a time.
   */
  async catchUp (from: () => number, adopt: (cert: VerifiedCertificate, peer: string) => Promise<void>, opts: CallOptions = {}): Promise<void> {
    if (this.catching) return
    this.catching = true
    try {
      for (const peer of this.c.peers.peers()) {
        opts.signal?.throwIfAborted()
        let certs: Uint8Array[]
        try {
          certs = await this.c.peers.page(peer, from(), opts)
        } catch (err: any) {
          if (opts.signal?.aborted === true) throw err
          this.c.logger.debug({ peer, err: String(err?.message ?? err) }, 'certificate sync failed')
          continue
        }
        for (const bytes of certs) {
          try {
            await adopt(this.verify(bytes), peer)
          } catch (err) {
            if (!(err instanceof ProtocolError)) throw err
            if (err instanceof ValidationError && err.action === 'IGNORE') continue
            this.c.logger.warn({ peer, err: err.message }, 'peer served a bad certificate')
            break
          }
        }
        if (certs.length > 0) break
      }
    } finally {
      this.catching = false
    }
  }
}
