import assert from 'node:assert/strict'
import { join } from 'node:path'
import { EmulateProc, freePort } from './lib/links.js'
import { auditLogs, getStatusCode, printTailsOnFailure, Testnet, waitFor } from './lib/testnet.js'
import { Tmpfs } from './lib/tmpfs.js'

/**
 * A hub whose data disk fills up, for real: its database on a 48 MiB tmpfs the test mounts and fills
 * to the last byte while devices (an `ecandle-emulate` process on the hub's MQTT broker) keep
 * reporting. The hub must stop acknowledging (never ack what it did not store), say so (log,
 * GET /status, /health, /metrics), keep serving reads, resume by itself when space returns; and after a
 * SIGKILL and restart every report a device was told is stored must be there, none twice.
 */
describe('a hub whose data disk fills up', function () {
  this.timeout(120_000)
  let tn: Testnet | undefined
  let emu: EmulateProc | undefined
  let disk: Tmpfs | undefined

  afterEach(function () {
    printTailsOnFailure(this, tn)
    if (this.currentTest?.state === 'failed' && emu !== undefined) process.stderr.write(`----- emulator\n${emu.logTail()}\n`)
  })
  after(async () => {
    await emu?.stop()
    await tn?.stopAll()
    disk?.unmount()
    await tn?.destroy()
  })

  it('stops acknowledging, says so, serves reads, resumes by itself; nothing acknowledged is lost', async () => {
    tn = await Testnet.create({ hubs: 1, devicesPerHub: 4, entryIntervalMs: 500 })
    const hub = tn.hubs[0]
    disk = new Tmpfs(join(hub.dir, 'db'), '48m')
    disk.mount()
    const port = await freePort()
    hub.configure(c => {
      c.emulator = null
      c.devices = { mqtt: { embedded: { host: '127.0.0.1', port } } }
      // No free-space margin: LevelDB itself runs into the full disk (the harder case; the margin is unit-tested).
      c.minFreeDiskBytes = 0
    })
    await hub.start()
    emu = new EmulateProc(join(tn.dir, 'emu'), hub.deviceKeysPath)
    emu.start(['--mqtt', `mqtt://127.0.0.1:${port}`, '--network', tn.net.id, '--interval', '1', '--resend-ms', '1000'])
    const e = emu
    await waitFor('12 reports acknowledged', () => e.durable().size >= 12, { timeoutMs: 30_000, describe: () => e.logTail(3) })

    // Fill the disk to its last byte while the devices keep reporting.
    disk.fill()
    const down = await waitFor('GET /status to say the store takes no writes', async () => {
      const s = await hub.status()
      return s.storage?.writable === false ? s.storage : undefined
    }, { timeoutMs: 10_000 })
    assert.equal(down.reason, 'write-failed', JSON.stringify(down))
    assert.match(hub.logTail(200), /data disk cannot be written/)
    const metrics = await (await fetch(`${hub.url as string}/metrics`)).text()
    assert.match(metrics, /^ecandle_storage_writable\{reason="(disk-full|write-failed)"\} 0$/m)
    const health = await fetch(`${hub.url as string}/health`)
    assert.equal(health.status, 503, 'GET /health: red while the disk cannot be written')
    const db = ((await health.json()) as { checks: Array<{ check: string, level: string }> }).checks.find(c => c.check === 'database')
    assert.equal(db?.level, 'red', JSON.stringify(db))
    // Reads go on.
    const head = (await hub.status()).heads[hub.peerId]
    assert.ok(head !== undefined)
    assert.equal((await hub.logEntries(hub.peerId, head.seq)).length, head.seq)

    // No ack while it cannot write: over a window in which every device queues two more reports.
    const queuedNow = (): number => e.queued().size
    const q0 = queuedNow()
    await waitFor('the devices to queue reports nobody acknowledges', () => queuedNow() >= q0 + 4, { timeoutMs: 20_000 })
    const acked = e.durable().size
    const q1 = queuedNow()
    await waitFor('the devices to queue more', () => queuedNow() >= q1 + 8, { timeoutMs: 20_000 })
    assert.equal(e.durable().size, acked, 'no report acknowledged while the disk is full')
    assert.ok(hub.alive, 'the hub runs on')
    assert.equal((await hub.status()).storage?.writable, false)

    // Space returns: it resumes by itself, and the queued reports are acknowledged.
    disk.release()
    await waitFor('GET /status to say the store takes writes again', async () => (await hub.status()).storage?.writable === true, { timeoutMs: 10_000 })
    assert.match(hub.logTail(200), /data disk writable again/)
    await waitFor('acknowledgements to resume and the queues to drain', () => e.durable().size > acked + 8 && queuedNow() <= 4, { timeoutMs: 40_000, describe: () => `${e.durable().size} acked, ${queuedNow()} queued` })

    // Power cut after all that: every acknowledged report is on disk, none twice.
    await e.stop()
    await hub.kill()
    await hub.start()
    const st = await hub.status()
    const audit = await auditLogs(hub, tn.net, st.heads) // hash chain, no (device, counter) twice
    const durable = e.durable()
    const missing = [...durable].filter(k => !audit.keys.has(k))
    assert.deepEqual(missing, [], 'every report acknowledged to a device is stored')
    for (const k of [...durable].slice(-10)) assert.equal(await getStatusCode(`${hub.url as string}/reports/${k.replace(':', '/')}`), 200)
    console.log(`      ${durable.size} reports acknowledged (${down.reason} while full), ${audit.reports} stored, none lost, none twice`)
  })
})
