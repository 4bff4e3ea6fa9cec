import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { chownSync, copyFileSync, existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Testnet, getJson, printTailsOnFailure, waitFor } from './lib/testnet.js'
import { baseImage, buildImage, podman, type Built } from './lib/container.js'
import type { HealthReport, HubStatus } from '@ecandle/client'

/** The image's hub user (docker/Dockerfile). */
const UID = 10001

function chownTree (path: string, uid: number): void {
  chownSync(path, uid, uid)
  if (statSync(path).isDirectory()) for (const f of readdirSync(path)) chownTree(join(path, f), uid)
}

/**
 * docker/Dockerfile built with podman from the local base, and a hub in the container that joins
 * a testnet of hub processes outside it (host network, 127.0.0.1): it replicates both ways,
 * answers GET /health, passes the image's HEALTHCHECK, and `ecandle status` works inside it.
 * Nothing is skipped: when podman cannot build or run here, the test fails naming why.
 */
describe('container image (podman): a hub in the container joins hubs outside it', function () {
  this.timeout(900_000)
  let net: Testnet | undefined
  let built: Built | undefined
  const name = `ecandle-test-${randomBytes(4).toString('hex')}`

  afterEach(async function () {
    printTailsOnFailure(this, net)
    if (this.currentTest?.state === 'failed') process.stderr.write(`----- container ${name}\n${spawnSync('podman', ['logs', '--tail', '30', name], { encoding: 'utf8' }).stderr ?? ''}\n`)
    spawnSync('podman', ['rm', '-f', '-t', '5', name], { stdio: 'ignore' })
    await net?.destroy()
  })

  it('builds from the local base; the hub in it replicates with host hubs, answers /health, is healthy, and `ecandle status` runs in it', async () => {
    net = await Testnet.create({ hubs: 3, devicesPerHub: 2 })
    const t = net
    const base = baseImage()
    built = await buildImage(base, join(t.dir, 'podman-build.log'))
    console.log(`      image ${built.image}: built in ${built.seconds.toFixed(0)} s (podman layer cache), ${(built.sizeBytes / 1e6).toFixed(0)} MB on base ${base}`)

    // Production dependencies only, and a non-root user.
    podman(['run', '--rm', '--entrypoint', 'sh', built.image, '-c', 'test ! -e /app/node_modules/typescript && test ! -e /app/node_modules/mocha && test ! -e /app/node_modules/eslint'])
    assert.equal(podman(['run', '--rm', '--entrypoint', 'id', built.image, '-u']).trim(), String(UID))

    // hub-3 runs in the container, with its data dir as the /data volume.
    await t.start([0, 1])
    const inside = t.hubs[2]
    copyFileSync(t.networkPath, join(inside.dir, 'network.json'))
    inside.configure(c => { c.network = 'network.json' })
    chownTree(inside.dir, UID)
    podman(['run', '-d', '--name', name, '--network', 'host', '-v', `${inside.dir}:/data`, built.image])
    const url = await waitFor('the containerised hub\'s API', async () => {
      const running = podman(['inspect', '--format', '{{.State.Running}}', name]).trim()
      if (running !== 'true') throw new Error(`container ${name} stopped: ${podman(['logs', '--tail', '5', name])}`)
      if (!existsSync(join(inside.dir, 'api.json'))) return undefined
      const { url } = JSON.parse(readFileSync(join(inside.dir, 'api.json'), 'utf8')) as { url: string }
      await getJson(`${url}/status`, 2000)
      return url
    }, { timeoutMs: 60_000, intervalMs: 250 })

    // It joins: connected to both host hubs, holds their logs, and they hold its log.
    const [h1, h2] = t.hubs
    await waitFor('the container hub and the host hubs to replicate each other\'s logs', async () => {
      const s = await getJson<HubStatus>(`${url}/status`)
      const s1 = await h1.status()
      return s.peers >= 2 && (s.heads[h1.peerId]?.seq ?? 0) >= 1 && (s.heads[h2.peerId]?.seq ?? 0) >= 1 && (s1.heads[inside.peerId]?.seq ?? 0) >= 1
    }, { timeoutMs: 60_000, intervalMs: 500 })

    // GET /health answers with every check, and the image's HEALTHCHECK (ecandle doctor) passes.
    const health = await waitFor('GET /health green', async () => {
      const h = await getJson<HealthReport>(`${url}/health`)
      return h.status === 'green' ? h : undefined
    }, { timeoutMs: 30_000, intervalMs: 500, describe: async () => JSON.stringify((await fetch(`${url}/health`).then(async r => await r.json()) as HealthReport).checks.filter(c => c.level !== 'green')) })
    assert.equal(health.peerId, inside.peerId)
    const hc = spawnSync('podman', ['healthcheck', 'run', name], { encoding: 'utf8' })
    assert.equal(hc.status, 0, `podman healthcheck run: ${hc.stdout}${hc.stderr}`)
    assert.equal(podman(['inspect', '--format', '{{.Config.User}}', name]).trim(), 'ecandle')

    // The CLI inside the container talks to its hub.
    const st = podman(['exec', name, 'ecandle', 'status', '--data-dir', '/data'])
    assert.match(st, new RegExp(`hub\\s+${inside.peerId}`))
    const doc = podman(['exec', name, 'ecandle', 'doctor', '--data-dir', '/data'])
    assert.match(doc, /^ecandle doctor: green/)
  })
})
