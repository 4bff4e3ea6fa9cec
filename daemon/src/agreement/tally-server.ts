import { serve, type HubNode } from '@ecandle/net'
import { protocols, type Network } from '@ecandle/protocol'
import { decodeTallyRequest, encodeLeavesFrame, encodeProofResponse, encodeTallyRequest, LEAVES_PER_FRAME, MAX_TALLY_FRAME_BYTES } from '@ecandle/sync'
import { buildTree, leafIndex, type TreeParts } from '@ecandle/tally'
import type { Logger } from 'pino'
import type { EpochRecord } from './driver.js'

/** Trees kept for the epochs asked about last (a light peer walks epochs in order). */
const CACHED_TREES = 8

/**
 * Serves the `tally` protocol: reward proofs and whole leaf sets of decided epochs, built from
 * the record kept at decision time (no tally is re-run). A light peer checks all of it against
 * the certified root, so nothing here has to be trusted.
 */
export class TallyServer {
  private readonly trees = new Map<number, TreeParts>()
  readonly counts = { proofs: 0, leafSets: 0 }

  constructor (
    private readonly net: Network,
    private readonly node: HubNode,
    private readonly record: (epoch: number) => Promise<EpochRecord | undefined>,
    private readonly log: Logger
  ) {}

  async start (): Promise<void> {
    await serve(this.node, protocols.tally(this.net.id), (req) => this.answer(req), {
      maxRequestBytes: encodeTallyRequest({ epoch: Number.MAX_SAFE_INTEGER, account: 'f'.repeat(64) }).byteLength,
      maxResponseBytes: MAX_TALLY_FRAME_BYTES,
      timeoutMs: 30_000,
      maxInboundStreams: 4
    }, this.log)
  }

  async stop (): Promise<void> {
    await this.node.unhandle(protocols.tally(this.net.id)).catch(() => {})
  }

  private async parts (epoch: number): Promise<TreeParts | undefined> {
    const hit = this.trees.get(epoch)
    if (hit !== undefined) return hit
    const rec = await this.record(epoch)
    if (rec === undefined) return undefined
    const parts: TreeParts = { epoch: rec.epoch, accounts: rec.accounts, devices: rec.devices, totals: rec.totals }
    this.trees.set(epoch, parts)
    if (this.trees.size > CACHED_TREES) this.trees.delete(this.trees.keys().next().value as number)
    return parts
  }

  private async * answer (req: Uint8Array): AsyncGenerator<Uint8Array> {
    const r = decodeTallyRequest(req)
    const parts = await this.parts(r.epoch)
    if (parts === undefined) return
    const tree = buildTree(parts)
    if (r.account !== null) {
      this.counts.proofs++
      const i = leafIndex(parts, 'a', r.account)
      yield encodeProofResponse(i === undefined ? { leaf: null, path: [] } : { leaf: tree.leaves[i], path: tree.proof(i) })
      return
    }
    this.counts.leafSets++
    for (let i = 0; i < tree.leaves.length; i += LEAVES_PER_FRAME) yield encodeLeavesFrame(tree.leaves.slice(i, i + LEAVES_PER_FRAME))
  }
}
