import { Auditor, type AuditSource } from '@ecandle/audit'
import { digestVectors } from '@ecandle/audit/conformance'
import { backend, ed25519VerifyBatch, hexToBytes } from '@ecandle/crypto'
import { nobleVerify } from '@ecandle/crypto/browser'
import { parseNetwork } from '@ecandle/protocol'

/**
 * Test and bench page (built by `npm run build:lab`, never shipped): the code of the audit page,
 * bundled the same way, with hooks a test or bench calls through page.evaluate.
 */
export interface AuditBenchInput {
  network: unknown
  account: string
  /** Certificate bytes by epoch, hex. */
  certs: string[]
  /** The account's proof in each epoch: leaf hex (or null) and path. */
  proofs: Array<{ leaf: string | null, path: Array<{ side: 'left' | 'right', hash: string }> }>
}

async function benchAudit (x: AuditBenchInput): Promise<{ backend: string, certificatesMs: number, proofsMs: number, verified: number, epochs: number, findings: number }> {
  const net = parseNetwork(x.network)
  const certs = x.certs.map(hexToBytes)
  const src: AuditSource = {
    peerId: 'memory',
    async * certificates (from) { yield * certs.slice(from) },
    async * entries () {},
    async proof (epoch) {
      const p = x.proofs[epoch]
      return p === undefined ? undefined : { leaf: p.leaf === null ? null : hexToBytes(p.leaf), path: p.path }
    },
    async leaves () { return [] },
    async resolutions () { return [] }
  }
  const a = new Auditor(net, src)
  let t = performance.now()
  const c = await a.certificates()
  const certificatesMs = performance.now() - t
  t = performance.now()
  const acc = await a.account(x.account, c.verified)
  const proofsMs = performance.now() - t
  return { backend: backend(), certificatesMs, proofsMs, verified: c.verified.length, epochs: acc.epochs.length, findings: c.findings.length + acc.findings.length }
}

/** Raw Ed25519 in this browser: WebCrypto (batched) and the pure-JS fallback, on the same signatures. */
async function benchRaw (items: Array<[string, string, string]>): Promise<{ webcryptoMs: number, nobleMs: number, ok: boolean }> {
  const xs = items.map(([k, m, s]) => [hexToBytes(k), hexToBytes(m), hexToBytes(s)] as const)
  let t = performance.now()
  const a = await ed25519VerifyBatch(xs)
  const webcryptoMs = performance.now() - t
  t = performance.now()
  const b = xs.map(([k, m, s]) => nobleVerify(k, m, s))
  const nobleMs = performance.now() - t
  return { webcryptoMs, nobleMs, ok: a.every(Boolean) && b.every(Boolean) }
}

Object.assign(globalThis, { ecandleLab: { digestVectors, benchAudit, benchRaw } })
document.body.dataset.ready = 'yes'
