import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import {
  EMPTY_ROOT,
  MerkleTree,
  decodeLeaf,
  encodeLeaf,
  genesisState,
  leafHash,
  merkleRoot,
  tally,
  toHex,
  verifyPath,
  type DeviceInfo,
  type SegmentReport
} from '../src/index.js'

/**
 * The protocol vectors (packages/protocol/vectors/protocol-v1.json) carry the tally of epoch 0 of
 * their network: leaves, tree levels, root and proofs. This package's code must agree with them
 * byte for byte (they are generated with it; this checks that it still does).
 */
const V = JSON.parse(readFileSync(new URL('../../../protocol/vectors/protocol-v1.json', import.meta.url), 'utf8'))
const T = V.tally
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))
const leaves = (): Uint8Array[] => T.leaves.map((l: any) => unhex(l.bytesHex))

describe('protocol vectors: tally leaves, Merkle tree and proofs', () => {
  it('each leaf decodes to its fields and re-encodes to the same bytes; its hash is sha256(00 ‖ leaf)', () => {
    assert.equal(T.leaves.length, 5)
    for (const l of T.leaves) {
      const bytes = unhex(l.bytesHex)
      const leaf = decodeLeaf(bytes)
      assert.equal(toHex(encodeLeaf(leaf)), l.bytesHex)
      // Amounts are decimal text on the wire, bigints here.
      assert.deepEqual(JSON.parse(JSON.stringify(leaf, (_k, v) => (typeof v === 'bigint' ? String(v) : v))), l.leaf)
      assert.equal(toHex(leafHash(bytes)), l.hashHex)
    }
    assert.deepEqual(
      T.leaves.map((l: any) => l.kind),
      ['account', 'account', 'summary', 'device', 'device'],
      'sorted by bytes: the kinds interleave'
    )
  })

  it('the root and every proof come out of MerkleTree exactly; proofs verify, invalid ones do not', () => {
    const tree = new MerkleTree(leaves())
    assert.equal(tree.root, T.root)
    assert.equal(merkleRoot(leaves()), T.root)
    assert.equal(T.levels[T.levels.length - 1][0], T.root)
    for (const p of T.proofs) {
      assert.deepEqual(tree.proof(p.leafIndex), p.path)
      assert.ok(verifyPath(leaves()[p.leafIndex], p.path, T.root))
    }
    // The summary's path is one step shorter where its odd node was promoted.
    assert.ok(T.proofs.some((p: any) => p.path.length < T.levels.length - 1))
    for (const p of T.invalidProofs) assert.equal(verifyPath(unhex(p.leafHex), p.path, p.root), false, p.name)
    assert.equal(T.merkle.emptyRootHex, EMPTY_ROOT)
    assert.equal(merkleRoot([]), EMPTY_ROOT)
  })

  it('invalid leaves are refused', () => {
    assert.ok(T.invalidLeaves.length >= 4)
    for (const l of T.invalidLeaves) assert.throws(() => decodeLeaf(unhex(l.bytesHex)), TypeError, l.name)
  })

  it('tallying the committed segment gives the committed totals and root', () => {
    const def = V.network.definition
    const devices = new Map<string, DeviceInfo>(
      def.devices.map((d: any) => [d.id, { id: d.id, hub: d.hub, capex: d.capex, opex: d.opex, ratedWhPerDay: d.ratedWhPerDay }])
    )
    const reports = new Map<string, any>(V.reports.map((r: any) => [r.id, r.report]))
    const segment: SegmentReport[] = T.input.segment.map((s: any) => {
      const r = reports.get(s.reportId)
      return { hub: s.hub, seq: s.seq, index: s.index, reportId: s.reportId, device: r.device, counter: r.counter, periodStart: r.periodStart, periodEnd: r.periodEnd, energyMwh: r.energyMwh, solarMwh: r.solarMwh, litS: r.litS }
    })
    const result = tally({
      epoch: T.epoch,
      params: { emissionPerEpoch: BigInt(T.input.params.emissionPerEpoch), capexBps: T.input.params.capexBps, deviceCapMwhPerEpoch: BigInt(T.input.params.deviceCapMwhPerEpoch) },
      devices,
      segment,
      prev: genesisState(),
      equivocated: new Set()
    })
    assert.equal(result.root, T.root)
    assert.deepEqual(Object.fromEntries(Object.entries(result.totals).map(([k, v]) => [k, String(v)])), T.totals)
    assert.deepEqual(result.statuses.map((s) => s.countedMwh), T.input.segment.map((s: any) => s.countedMwh))
  })
})
