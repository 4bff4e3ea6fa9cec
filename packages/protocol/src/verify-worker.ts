import { parentPort } from 'node:worker_threads'
import { verifyBatch } from './verify-pool.js'

// A VerifyPool worker: one batch per message, one 0/1 byte per check back.
parentPort?.on('message', (m: { id: number, n: number, buf: Uint8Array }) => {
  const ok = verifyBatch(m.n, m.buf)
  parentPort?.postMessage({ id: m.id, ok }, [ok.buffer as ArrayBuffer])
})
