import type { Startable } from '@libp2p/interface'
import type { HubNode } from '@ecandle/net'
import type { Network } from '@ecandle/protocol'
import { buildTree, leafIndex, type TreeParts } from '@ecandle/tally'
import { handle, LEAVES_PER_FRAME, tallyProtocol, type Served, type StreamLogger, type TallyFrame, type TallyRequest } from '@ecandle/wire'
import type { EpochRecordRepository } from '../db/index.js'

/** Trees kept for the epochs asked about last (a light peer walks epochs in order). */
const CACHED_TREES = 8

export interface TallyServerComponents {
  net: Network
  node: Pick<HubNode, 'handle' | 'unhandle'>
  records: EpochRecordRepository
  logger: StreamLogger
}

/**
 * Serves the `tally` protocol: reward proofs and whole leaf sets of decided epochs, built from
 * the record kept at decision time (no tally is re-run). A light peer checks all of it against
 * the certified root, so nothing here has to be trusted. A component: `stop` ends the answers in flight.
 */
export class TallyServer implements Startable {
  private readonly trees = new Map<number, TreeParts>()
  private served?: Served
  private shutdown = new AbortController()
  readonly counts = { proofs: 0, leafSets: 0 }

  constructor (private readonly c: TallyServerComponents) {}

  isStarted (): boolean { return this.served !== undefined }

  async start (): Promise<void> {
    if (this.served !== undefined) return
    this.shutdown = new AbortController()
    this.served = await handle(this.c.node, this.c.net.id, tallyProtocol, (r) => this.answer(r), { logger: this.c.logger, signal: this.shutdown.signal })
  }

  async stop (): Promise<void> {
    this.shutdown.abort(new Error('tally server stopped'))
    await this.served?.close()
    this.served = undefined
    this.trees.clear()
  }

  private async parts (epoch: number): Promise<TreeParts | undefined> {
    const hit = this.trees.get(epoch)
    if (hit !== undefined) return hit
    const rec = await this.c.records.get(epoch)
    if (rec === undefined) return undefined
    const parts: TreeParts = { epoch: rec.epoch, accounts: rec.accounts, devices: rec.devices, totals: rec.totals }
    this.trees.set(epoch, parts)
    if (this.trees.size > CACHED_TREES) this.trees.delete(this.trees.keys().next().value as number)
    return parts
  }

  private async * answer (r: TallyRequest): AsyncGenerator<TallyFrame> {
    const parts = await this.parts(r.epoch)
    if (parts === undefined) return
    const tree = buildTree(parts)
    if (r.account !== null) {
      this.counts.proofs++
      const i = leafIndex(parts, 'a', r.account)
      yield { proof: i === undefined ? { leaf: null, path: [] } : { leaf: tree.leaves[i], path: tree.proof(i) } }
      return
    }
    this.counts.leafSets++
    for (let i = 0; i < tree.leaves.length; i += LEAVES_PER_FRAME) yield { leaves: tree.leaves.slice(i, i + LEAVES_PER_FRAME) }
  }
}
