import { backend, withBatchVerify } from '@ecandle/crypto'
import {
  parseNetwork, peerIdFromPublicKey, ProtocolError, sha256, signerFromSeed, toHex, verifyCertificate, verifyEntry, verifyEvidence, verifyReport, type Network
} from '@ecandle/protocol'
import { decodeLeaf, leafHash, merkleRoot, rootFromPath } from '@ecandle/tally'

/**
 * Everything the protocol vectors (packages/protocol/vectors/protocol-v1.json) make the code
 * compute, computed by the code of the platform this runs on: key derivation, network id, report,
 * entry and evidence ids, the codes of the invalid objects, certificate value ids and signers
 * (through the synchronous check and through withBatchVerify, which is WebCrypto in a browser),
 * tally leaf hashes, the Merkle root and proofs. Node and a browser must give identical digests:
 * ids and roots are consensus-critical. (test/pages.test.ts compares them in Chromium.)
 */
type Vectors = any

const hex = (s: string): Uint8Array => {
  const out = new Uint8Array(s.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16)
  return out
}

/** The error code, or 'ok'. */
function outcome (fn: () => unknown): string {
  try {
    fn()
    return 'ok'
  } catch (err) {
    return err instanceof ProtocolError ? err.code : `not-a-protocol-error: ${String((err as Error)?.message ?? err)}`
  }
}

export interface VectorDigest { backend: string, values: Record<string, unknown> }

export async function digestVectors (V: Vectors): Promise<VectorDigest> {
  const values: Record<string, unknown> = {}
  const net: Network = parseNetwork(JSON.stringify(V.network.definition))
  values.networkId = net.id
  values.keys = Object.fromEntries(Object.entries<any>(V.keys).map(([name, k]) => {
    const s = signerFromSeed(hex(k.seedHex))
    return [name, { publicKey: toHex(s.publicKey), peerId: peerIdFromPublicKey(s.publicKey), sig: toHex(s.sign('ecandle/test/1', hex('00ff'))) }]
  }))
  values.reports = V.reports.map((v: any) => {
    const dev = net.devices.get(v.report.device)
    const d = verifyReport(net, hex(v.signedHex), dev?.info.hub ?? '')
    return { id: d.id, sha256: toHex(sha256(hex(v.signedHex))), counter: d.report.counter }
  })
  values.entries = V.entries.map((v: any) => {
    const e = verifyEntry(net, hex(v.signedHex), v.verifyAtMs)
    return { cid: e.id.toString(), reports: e.reports.map(r => r.id) }
  })
  values.evidence = V.evidence.map((v: any) => verifyEvidence(net, hex(v.bytesHex)).id)
  values.invalidEntries = V.invalidEntries.map((v: any) => outcome(() => verifyEntry(net, hex(v.signedHex), v.verifyAtMs)))
  values.invalidEvidence = V.invalidEvidence.map((v: any) => outcome(() => verifyEvidence(net, hex(v.signedHex))))
  const certs = [...V.consensus.certificates, ...(V.consensus.acceptedNonCanonicalCertificates ?? [])]
  values.certificates = certs.map((v: any) => {
    const c = verifyCertificate(net, hex(v.bytesHex))
    return { valueId: c.valueId, root: c.value.root, signers: c.signers }
  })
  values.certificatesBatched = await Promise.all(certs.map(async (v: any) => {
    const c = await withBatchVerify(() => verifyCertificate(net, hex(v.bytesHex)))
    return { valueId: c.valueId, root: c.value.root, signers: c.signers }
  }))
  values.invalidCertificates = V.consensus.invalidCertificates.map((v: any) => outcome(() => verifyCertificate(net, hex(v.bytesHex))))
  values.invalidCertificatesBatched = await Promise.all(V.consensus.invalidCertificates.map(async (v: any) => {
    try {
      await withBatchVerify(() => verifyCertificate(net, hex(v.bytesHex)))
      return 'ok'
    } catch (err) {
      return err instanceof ProtocolError ? err.code : 'not-a-protocol-error'
    }
  }))
  const leaves: Uint8Array[] = V.tally.leaves.map((l: any) => hex(l.bytesHex))
  values.leafHashes = leaves.map(l => toHex(leafHash(l)))
  values.leafKinds = leaves.map(l => decodeLeaf(l).k)
  values.root = merkleRoot(leaves)
  values.proofRoots = V.tally.proofs.map((p: any) => rootFromPath(leaves[p.leafIndex], p.path) ?? null)
  values.invalidLeaves = V.tally.invalidLeaves.map((v: any) => { try { decodeLeaf(hex(v.bytesHex)); return 'ok' } catch { return 'refused' } })
  return { backend: backend(), values }
}
