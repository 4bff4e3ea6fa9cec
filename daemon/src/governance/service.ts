import {
  resolutionIdOf, toHex, topics, type BuilderWeights, type Decided, type EpochState, type Network, type VerifiedResolution
} from '@ecandle/protocol'
import { fetchResolutions, governanceProtocol, handle, type CallOptions, type Served } from '@ecandle/wire'
import type { HubNode } from '@ecandle/net'
import { peerIdFromString } from '@ecandle/net'
import type { Startable } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { GovPoolRepository, ResolutionRepository } from '../db/index.js'
import type { GovChain } from './chain.js'
import { GovPool, poolKey, verifyGovMessage, type GovMessage } from './pool.js'

export interface GovernanceComponents {
  net: Network
  chain: GovChain
  resolutions: ResolutionRepository
  poolRepo: GovPoolRepository
  gossip: {
    subscribe: (topic: string, validate: (data: Uint8Array, from: string) => Promise<void>) => void
    publish: (topic: string, data: Uint8Array) => Promise<number>
  }
  /** Serves the governance sync protocol and fetches from peers when given. */
  node?: Pick<HubNode, 'handle' | 'unhandle' | 'dialProtocol' | 'getPeers'>
  /** Builder weights for the epoch to decide (cumulative totals after the last decided epoch). */
  weights: () => BuilderWeights
  logger: Pick<Logger, 'debug' | 'info' | 'warn'>
  /** Pool bound in bytes. */
  maxPoolBytes?: number
}

/** Resolutions of the last decided epochs kept in memory to answer requests by id. */
const RECENT_DECIDED_EPOCHS = 4

/**
 * The hub's governance runtime: the `governance` gossip topic (validated, pooled), the pool (bounded,
 * stored), the governance sync server (resolutions of a decided epoch, or by id from the pool), and
 * fetching resolutions a proposal names that the pool lacks.
 */
export class Governance implements Startable {
  readonly pool: GovPool
  private served?: Served
  private readonly decided = new Map<number, VerifiedResolution[]>()
  private shutdown = new AbortController()
  private subscribed = false
  readonly counts = { accepted: 0, fetched: 0 }

  constructor (private readonly c: GovernanceComponents) {
    this.pool = new GovPool(c.net.id, c.maxPoolBytes ?? 8 * 1024 * 1024)
  }

  get latest (): EpochState { return this.c.chain.latest }

  async start (): Promise<void> {
    this.shutdown = new AbortController()
    // The pool as stored: each message is checked again (a rule of the state may have moved on).
    const drop: string[] = []
    for await (const [key, bytes] of this.c.poolRepo.entries()) {
      try {
        this.pool.add(verifyGovMessage(this.c.net.id, bytes), this.latest, this.c.weights())
      } catch {
        drop.push(key)
      }
    }
    await this.c.poolRepo.delete(drop)
    if (!this.subscribed) {
      this.subscribed = true
      this.c.gossip.subscribe(topics.governance(this.c.net.id), async (data) => { await this.accept(data) })
    }
    if (this.c.node !== undefined) {
      this.served = await handle(this.c.node, this.c.net.id, governanceProtocol, (req) => this.answer(req), { logger: this.c.logger, signal: this.shutdown.signal })
    }
  }

  async stop (): Promise<void> {
    this.shutdown.abort(new Error('governance stopped'))
    await this.served?.close()
    this.served = undefined
  }

  /** A message from gossip: REJECT what can never be valid, IGNORE what is stale or not (yet) usable, else pool and store it. */
  async accept (bytes: Uint8Array, opts: { sync?: boolean } = {}): Promise<GovMessage> {
    const m = verifyGovMessage(this.c.net.id, bytes)
    const evicted = this.pool.add(m, this.latest, this.c.weights())
    await this.c.poolRepo.delete(evicted)
    // Gossip is not acknowledged to anyone (peers still hold it): no sync write per message.
    await this.c.poolRepo.put(poolKey(m), bytes, { sync: opts.sync === true })
    this.counts.accepted++
    return m
  }

  /** An operation or approval from the CLI or API: pooled and durably stored before the answer, then gossiped. */
  async submit (bytes: Uint8Array): Promise<GovMessage> {
    const m = await this.accept(bytes, { sync: true })
    await this.c.gossip.publish(topics.governance(this.c.net.id), bytes)
    return m
  }

  /** The resolutions of a decided epoch, or those asked for by id (decided lately or in the pool). */
  private async * answer (req: { epoch: number | null, ids: string[] }): AsyncGenerator<Uint8Array> {
    if (req.epoch !== null) {
      yield * (await this.c.resolutions.get(req.epoch)) ?? []
      return
    }
    for (const id of req.ids) {
      const b = this.bytesOf(id)
      if (b !== undefined) yield b
    }
  }

  private bytesOf (id: string): Uint8Array | undefined {
    const r = this.pool.resolution(id)
    if (r !== undefined) return r.bytes
    for (const list of this.decided.values()) for (const d of list) if (d.id === id) return d.bytes
    return undefined
  }

  /** What the proposer of `s.epoch` can include (selection is `selectResolutions`'). */
  candidates (s: EpochState, weights: BuilderWeights): VerifiedResolution[] {
    return this.pool.candidates(s, weights)
  }

  /**
   * Gossips the resolutions of our proposal that carry approvals (the ones we chose may differ from
   * those a validator holds); one without approvals is its operation alone, which every validator
   * that holds the operation assembles to the same bytes.
   */
  async announce (rs: readonly VerifiedResolution[]): Promise<void> {
    for (const r of rs) if (r.approvals.length > 0) await this.c.gossip.publish(topics.governance(this.c.net.id), r.bytes)
  }

  /**
   * The resolutions `ids` names, from the pool or fetched from `hint` then other peers (each frame
   * hashed and matched to what was asked): by id, or for a decided epoch (`epoch`, catching up on a
   * certificate) by that epoch, which every hub that decided it serves. Undefined when some could not be had.
   */
  async resolve (ids: readonly string[], hint: string, opts: CallOptions = {}, epoch?: number): Promise<Uint8Array[] | undefined> {
    const have = new Map<string, Uint8Array>()
    for (const id of ids) { const b = this.bytesOf(id); if (b !== undefined) have.set(id, b) }
    const node = this.c.node
    if (have.size < ids.length && node !== undefined) {
      const peers = [hint, ...node.getPeers().map(p => p.toString()).filter(p => p !== hint)]
      for (const peer of peers) {
        const missing = ids.filter(id => !have.has(id))
        if (missing.length === 0) break
        try {
          const frames = await fetchResolutions(node, peerIdFromString(peer), this.c.net.id, epoch === undefined ? { ids: missing } : { epoch }, { signal: this.shutdown.signal, timeoutMs: 5000, ...opts })
          for (const b of frames) {
            const id = resolutionIdOf(b)
            if (missing.includes(id)) { have.set(id, b); this.counts.fetched++ }
          }
        } catch (err: any) {
          this.c.logger.debug({ peer, err: String(err?.message ?? err) }, 'fetching resolutions failed')
        }
      }
    }
    return have.size === ids.length ? ids.map(id => have.get(id)!) : undefined
  }

  /**
   * Why a proposed value should get a nil prevote although its governance follows (docs/governance.md
   * §4): a params resolution in it leaves out a builder vote (with weight) that this hub holds, so a
   * proposer cannot drop the no votes it saw. Undefined when nothing is left out.
   */
  lackingBuilderVotes (d: Decided, weights: BuilderWeights): string | undefined {
    for (const { resolution: r } of d.checked) {
      if (r.op.op.type !== 'params') continue
      const carried = new Set(r.approvals.filter(a => a.as === 'builder').map(a => toHex(a.by)))
      const left = this.pool.approvalsOf(r.op.id).filter(a => a.as === 'builder' && !carried.has(toHex(a.by)) && weights.weightOf(toHex(a.by)) > 0n)
      if (left.length > 0) return `params ${r.op.id.slice(0, 12)} leaves out ${left.length} builder vote(s) this hub holds`
    }
    return undefined
  }

  /** After the decision of `epoch` (S advanced): keep its resolutions to serve, forget what the pool no longer needs. */
  async decidedEpoch (epoch: number, resolutions: readonly VerifiedResolution[]): Promise<void> {
    this.decided.set(epoch, [...resolutions])
    this.decided.delete(epoch - RECENT_DECIDED_EPOCHS)
    await this.c.poolRepo.delete(this.pool.prune(this.latest))
  }
}
