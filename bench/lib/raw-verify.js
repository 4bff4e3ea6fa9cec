// Raw Ed25519 baselines on every core, for the ingest bench: the same signatures as the single-core
// raw figure, verified (a) by one worker thread per core, each a tight crypto.verify loop over its
// share of pre-made KeyObjects and messages (the two-core ceiling: no messages per signature), and
// (b) by crypto.verify with a callback for each signature (the libuv threadpool), all of a chunk in
// flight at once. Both take the same inputs as rawVerifyChunk in ingest.js.
import { verify } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const { createPublicKey, verify } = require('node:crypto')
const SPKI = Buffer.from('302a300506032b6570032100', 'hex')
const keys = new Map()
// chunks[c] = this worker's share of chunk c: [{ key: raw 32 bytes, msg, sig }]
const chunks = workerData.chunks.map(items => items.map(it => {
  const h = Buffer.from(it.key).toString('hex')
  let key = keys.get(h)
  if (key === undefined) { key = createPublicKey({ key: Buffer.concat([SPKI, it.key]), format: 'der', type: 'spki' }); keys.set(h, key) }
  return { key, msg: Buffer.from(it.msg), sig: Buffer.from(it.sig) }
}))
parentPort.on('message', c => {
  let ok = 0
  for (const it of chunks[c]) if (verify(null, it.msg, it.key, it.sig)) ok++
  parentPort.postMessage(ok)
})
parentPort.postMessage('ready')
`

/**
 * One worker per core, each holding its share (every n-th signature) of every chunk.
 * `chunks[c]`: [{ key: raw public key, msg, sig }] as made for the single-core baseline.
 */
export async function rawWorkers (chunks, threads = availableParallelism()) {
  const workers = []
  for (let w = 0; w < threads; w++) {
    const share = chunks.map(items => items.filter((_, i) => i % threads === w).map(it => ({ key: it.raw, msg: it.msg, sig: it.sig })))
    const worker = new Worker(WORKER, { eval: true, workerData: { chunks: share } })
    await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject) })
    workers.push(worker)
  }
  return {
    threads,
    /** Verifies chunk c on every worker at once; resolves with the number of good signatures. */
    async verify (c) {
      const oks = await Promise.all(workers.map(w => new Promise(resolve => { w.once('message', resolve); w.postMessage(c) })))
      return oks.reduce((a, b) => a + b, 0)
    },
    async close () { await Promise.all(workers.map(async w => await w.terminate())) }
  }
}

/** Every signature of `items` through crypto.verify with a callback (the libuv threadpool), all in flight. */
export async function rawThreadpool (items) {
  let ok = 0
  await Promise.all(items.map(it => new Promise((resolve, reject) => {
    verify(null, it.msg, it.key, it.sig, (err, good) => { if (err != null) reject(err); else { if (good) ok++; resolve() } })
  })))
  return ok
}
