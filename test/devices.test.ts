import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { DeviceLinkStatus } from '@ecandle/hardware-bridge'
import { EmulateProc, Mosquitto, PtyPair, freePort, requireTool, writeKeySubset } from './lib/links.js'
import { Testnet, auditLogs, getJson, getStatusCode, printTailsOnFailure, runCli, waitFor, type EntryJson, type TestHub } from './lib/testnet.js'

/**
 * Device links end to end: a hub PROCESS (`ecandle daemon`) whose config.json points at a socat
 * pseudo-terminal or an MQTT broker, and devices in their own `ecandle-emulate` processes that
 * outlive the hub. What a device was told is read from its --ack-log; what the hub holds from its
 * HTTP API. Needs socat and mosquitto (.ci/run installs them).
 */
describe('device links: hub process, devices in ecandle-emulate processes', function () {
  this.timeout(90_000)
  let net: Testnet | undefined
  let emus: EmulateProc[] = []
  let pty: PtyPair | undefined
  let mosq: Mosquitto | undefined

  before(() => {
    requireTool('socat')
    requireTool('mosquitto')
  })

  afterEach(async function () {
    printTailsOnFailure(this, net)
    if (this.currentTest?.state === 'failed') {
      for (const e of emus) process.stderr.write(`----- emulator ${e.dir}\n${e.logTail()}\n`)
    }
    for (const e of emus) await e.stop()
    await net?.stopAll()
    await pty?.stop()
    await mosq?.stop()
    await net?.destroy()
    net = undefined; pty = undefined; mosq = undefined; emus = []
  })

  function emulator (t: Testnet, name: string, keysPath: string): EmulateProc {
    const e = new EmulateProc(join(t.dir, name), keysPath)
    emus.push(e)
    return e
  }

  /** Every report of a log, by `device:counter`, from GET /logs (also checks the log: no key twice). */
  async function storedReports (t: Testnet, hub: TestHub, opts: { countersRise?: boolean } = {}): Promise<Map<string, EntryJson['reports'][number]>> {
    const s = await hub.status()
    await auditLogs(hub, t.net, s.heads, opts) // hash chain, registered devices, no (device, counter) twice
    const out = new Map<string, EntryJson['reports'][number]>()
    const head = s.heads[hub.peerId]
    for (const e of head === undefined ? [] : await hub.logEntries(hub.peerId, head.seq)) {
      for (const r of e.reports) out.set(`${r.device}:${r.counter}`, r)
    }
    return out
  }

  /** Every report a device was told is durable is stored, and no report is stored twice. */
  async function assertExactlyOnce (t: Testnet, hub: TestHub, emu: EmulateProc): Promise<{ acked: number, duplicates: number, stored: number }> {
    const acks = emu.acks()
    assert.deepEqual(acks.filter(a => a.st === 'refused'), [], 'no report refused')
    const stored = await storedReports(t, hub)
    const durable = emu.durable()
    const missing = [...durable].filter(k => !stored.has(k))
    assert.deepEqual(missing, [], 'every acknowledged report is in the hub\'s log')
    for (const k of durable) {
      const [d, c] = k.split(':')
      assert.equal(await getStatusCode(`${hub.url ?? ''}/reports/${d}/${c}`), 200, `GET /reports/${d}/${c}`)
    }
    return { acked: durable.size, duplicates: acks.filter(a => a.st === 'duplicate').length, stored: stored.size }
  }

  /**
   * Devices keep sending while the hub process is SIGKILLed and restarted: afterwards every report
   * a device saw acknowledged is stored, and what was unacknowledged is resent and stored once.
   */
  async function killWhileSending (t: Testnet, hub: TestHub, emu: EmulateProc, linkArgs: string[]): Promise<string> {
    const ids = t.net.def.devices.map(d => d.id)
    emu.start([...linkArgs, '--interval', '1', '--resend-ms', '1000'])
    await waitFor('30 reports acknowledged to the devices', () => emu.durable().size >= 30, { timeoutMs: 30_000, describe: () => `${emu.durable().size} acks; ${emu.logTail(3)}` })
    await hub.kill()
    const ackedBeforeKill = emu.durable()
    // Nobody answers now; the devices keep making reports and resending the oldest.
    await waitFor('every device to hold ≥ 3 unacknowledged reports in flash', () => {
      const s = emu.state()
      return s !== undefined && ids.every(id => (s.devices[id]?.queue.length ?? 0) >= 3)
    }, { timeoutMs: 20_000, describe: () => JSON.stringify(Object.fromEntries(Object.entries(emu.state()?.devices ?? {}).map(([id, s]) => [id, s.queue.length]))) })
    const unacked = emu.queued()
    hub.spawn()
    await hub.waitApi()
    await waitFor(`the ${unacked.size} reports unacknowledged at restart to be acknowledged`, () => {
      const d = emu.durable()
      return [...unacked].every(k => d.has(k))
    }, { timeoutMs: 30_000, describe: () => [...unacked].filter(k => !emu.durable().has(k)).slice(0, 5).join(' ') })
    await emu.stop()
    for (const k of ackedBeforeKill) assert.ok(emu.durable().has(k))
    const r = await assertExactlyOnce(t, hub, emu)
    for (const k of unacked) assert.equal(await getStatusCode(`${hub.url ?? ''}/reports/${k.replace(':', '/')}`), 200)
    return `${ackedBeforeKill.size} acked before SIGKILL, ${unacked.size} unacked at restart; ${r.acked} acked in all (${r.duplicates} as duplicate), ${r.stored} stored, none twice`
  }

  it('serial (socat pty): SIGKILL the hub while devices keep sending; acked reports stay stored, the rest are resent and stored once', async () => {
    net = await Testnet.create({ hubs: 1, devicesPerHub: 6 })
    const hub = net.hubs[0]
    pty = PtyPair.inDir(join(net.dir, 'pty'))
    await pty.start()
    const path = pty.hub
    hub.configure(c => { c.emulator = null; c.devices = { serial: [{ path, baudRate: 115200 }] } })
    await hub.start()
    const summary = await killWhileSending(net, hub, emulator(net, 'emu', hub.deviceKeysPath), ['--serial', pty.dev])
    const rows = await hub.get<DeviceLinkStatus[]>('/devices')
    assert.equal(rows.length, 6)
    for (const r of rows) {
      assert.equal(r.link, `serial:${path}`)
      assert.ok(r.counter !== undefined && r.batteryMv !== undefined && r.soc !== undefined && (r.energyTodayMwh ?? -1) >= 0, JSON.stringify(r))
    }
    console.log(`      ${summary}`)
  })

  it('serial: a device rebooted with a reset counter reuses counters: refused counter-reused, shown by `ecandle devices`', async () => {
    net = await Testnet.create({ hubs: 1, devicesPerHub: 1 })
    const t = net
    const hub = net.hubs[0]
    const id = net.net.def.devices[0].id
    pty = PtyPair.inDir(join(net.dir, 'pty'))
    await pty.start()
    const path = pty.hub
    hub.configure(c => { c.emulator = null; c.devices = { serial: [{ path }] } })
    await hub.start()

    const first = emulator(net, 'emu-first-life', hub.deviceKeysPath)
    first.start(['--serial', pty.dev, '--interval', '1', '--resend-ms', '1000'])
    await waitFor('8 reports acknowledged', () => first.durable().size >= 8, { timeoutMs: 30_000 })
    await first.stop()
    const used = first.acks().map(a => a.c)
    const min = Math.min(...used)
    const max = Math.max(...used)

    // Second life: flash wiped (a new state file: last counter 0) and the RTC set back to before
    // the first report, so the device counts again from counters it already used. Its periods are
    // 2 s long now, so every report differs from the stored one with the same counter.
    // (A reset to a counter never used before is accepted: counters must be unique, not increasing.)
    const second = emulator(net, 'emu-second-life', hub.deviceKeysPath)
    const back = Math.floor(Date.now() / 1000) - min + 1
    second.start(['--serial', pty.dev, '--interval', '2', '--resend-ms', '1000', `--skew-s=${-back}`])
    await waitFor('reused counters refused and a fresh one stored', () => {
      const a = second.acks()
      return a.filter(x => x.why === 'counter-reused').length >= 3 && a.some(x => x.st === 'stored' && x.c > max)
    }, { timeoutMs: 30_000, describe: () => JSON.stringify(second.acks().slice(-5)) })
    await second.stop()

    const acks = second.acks()
    const reused = acks.filter(a => a.st === 'refused')
    assert.ok(reused.every(a => a.why === 'counter-reused'), JSON.stringify(reused))
    const stored = await storedReports(t, hub)
    for (const a of reused) {
      // The first report with that counter is kept, untouched: a 1 s period of the first life.
      const r = stored.get(`${id}:${a.c}`)
      assert.ok(r !== undefined && r.periodEnd - r.periodStart === 1, `counter ${a.c}: ${JSON.stringify(r)}`)
    }
    assert.ok((await getJson<string[]>(`${hub.url ?? ''}/evidence`)).length >= 1, 'the two reports with one counter are kept as evidence')

    const json = await runCli(['devices', '--data-dir', hub.dir, '--json'])
    assert.equal(json.code, 0, json.stderr)
    const rows = JSON.parse(json.stdout) as DeviceLinkStatus[]
    assert.ok(Array.isArray(rows) && rows.length === 1)
    assert.equal(rows[0].device, id)
    assert.equal(rows[0].lastRefusal, 'counter-reused')
    assert.ok(rows[0].errors >= reused.length)
    assert.ok((rows[0].counter ?? 0) > max)
    const table = await runCli(['devices', '--data-dir', hub.dir])
    assert.equal(table.code, 0, table.stderr)
    assert.match(table.stdout, /LAST REFUSAL/)
    assert.match(table.stdout, new RegExp(`${id}\\s+serial:.*counter-reused`))
    console.log(`      first life: counters ${min}..${max}; second life: ${reused.length} refused counter-reused, ${acks.filter(a => a.st === 'stored').length} stored`)
  })

  it('MQTT via mosquitto: SIGKILL the hub mid-stream, devices stay on the broker; every report stored exactly once', async () => {
    net = await Testnet.create({ hubs: 1, devicesPerHub: 6 })
    const hub = net.hubs[0]
    mosq = new Mosquitto()
    await mosq.start(join(net.dir, 'mosquitto'))
    const url = mosq.url
    hub.configure(c => { c.emulator = null; c.devices = { mqtt: { url } } })
    await hub.start()
    const summary = await killWhileSending(net, hub, emulator(net, 'emu', hub.deviceKeysPath), ['--mqtt', url, '--network', net.net.id])
    const rows = await hub.get<DeviceLinkStatus[]>('/devices')
    assert.equal(rows.length, 6)
    assert.ok(rows.every(r => r.link === `mqtt:${url}` && r.counter !== undefined))
    console.log(`      ${summary}`)
  })

  it('MQTT via mosquitto: a device back from a one-day outage (8,640 reports, window 256) drains in under 2 minutes at the 5 s entry interval, through a SIGKILL; a window-1 device keeps working', async function () {
    this.timeout(180_000)
    const backlog = 8640 // one day of reports every 10 s
    // Entries every 5 s (the default); genesis 2 days ago so the oldest backfilled period is valid; 1-day epochs.
    net = await Testnet.create({ hubs: 1, devicesPerHub: 2, entryIntervalMs: 5000, epochLengthS: 86_400, genesisTime: Math.floor(Date.now() / 1000) - 2 * 86_400 })
    const hub = net.hubs[0]
    const [late, live] = net.net.def.devices.map(d => d.id)
    mosq = new Mosquitto()
    await mosq.start(join(net.dir, 'mosquitto'))
    const url = mosq.url
    hub.configure(c => { c.emulator = null; c.devices = { mqtt: { url } } })
    await hub.start()
    writeKeySubset(hub.deviceKeysPath, join(net.dir, 'late.json'), [late])
    writeKeySubset(hub.deviceKeysPath, join(net.dir, 'live.json'), [live])
    const link = ['--mqtt', url, '--network', net.net.id]
    const liveEmu = emulator(net, 'emu-live', join(net.dir, 'live.json'))
    liveEmu.start([...link, '--interval', '1', '--resend-ms', '1000']) // an old device: one report in flight
    await waitFor('the window-1 device acknowledged', () => liveEmu.durable().size >= 1, { timeoutMs: 30_000 })
    const lateEmu = emulator(net, 'emu-late', join(net.dir, 'late.json'))
    const started = Date.now()
    lateEmu.start([...link, '--interval', '10', '--backfill', String(backlog), '--queue', String(backlog), '--window', '256'])
    const drained = (): number => [...lateEmu.durable()].filter(k => k.startsWith(`${late}:`)).length
    // Halfway, the hub is killed: what it acknowledged must be stored; the device resends the rest.
    await waitFor('a quarter of the backlog acknowledged', () => drained() >= backlog / 4, { timeoutMs: 120_000, describe: () => `${drained()} acked; ${lateEmu.logTail(2)}` })
    const liveBefore = liveEmu.durable().size
    await hub.kill()
    const ackedBeforeKill = lateEmu.durable()
    hub.spawn()
    await hub.waitApi()
    // Drained: the device's flash holds at most the report of the current period (its own counters, every 2 s).
    const counters = (): { acked: number, queued: number } | undefined => {
      const line = lateEmu.logTail(5).split('\n').filter(l => l.startsWith('{')).pop()
      return line === undefined ? undefined : JSON.parse(line) as { acked: number, queued: number }
    }
    await waitFor(`all ${backlog} reports acknowledged within 2 minutes of the device coming back`, () => { const c = counters(); return c !== undefined && c.acked >= backlog && c.queued <= 1 }, {
      timeoutMs: Math.max(1, 120_000 - (Date.now() - started)),
      describe: () => `${drained()} of ${backlog} acked after ${Math.round((Date.now() - started) / 1000)} s; ${lateEmu.logTail(2)}`
    })
    const seconds = (Date.now() - started) / 1000
    await waitFor('the window-1 device acknowledged again after the restart', () => liveEmu.durable().size >= liveBefore + 3, { timeoutMs: 30_000 })
    await lateEmu.stop()
    await liveEmu.stop()
    const stored = await storedReports(net, hub, { countersRise: false }) // a window resent after the restart may land after newer reports
    for (const emu of [lateEmu, liveEmu]) {
      assert.deepEqual(emu.acks().filter(a => a.st === 'refused'), [], 'no report refused')
      const missing = [...emu.durable()].filter(k => !stored.has(k))
      assert.deepEqual(missing, [], 'every acknowledged report is in the hub\'s log')
    }
    for (const k of ackedBeforeKill) assert.ok(stored.has(k))
    assert.ok([...stored.keys()].filter(k => k.startsWith(`${late}:`)).length >= backlog, 'the whole backlog stored (each report once: auditLogs)')
    const entries = (await hub.status()).heads[hub.peerId]?.seq ?? 0
    console.log(`      ${backlog} reports drained in ${seconds.toFixed(1)} s (one SIGKILL and restart included) in ${entries} entries; ${ackedBeforeKill.size} acked before the kill; window-1 device: ${liveEmu.durable().size} acked`)
  })

  it('MQTT via the embedded broker: absurd device clocks refused "clock"; a clean restart; exactly once', async () => {
    net = await Testnet.create({ hubs: 1, devicesPerHub: 3 })
    const hub = net.hubs[0]
    const ids = net.net.def.devices.map(d => d.id)
    const port = await freePort()
    hub.configure(c => { c.emulator = null; c.devices = { mqtt: { embedded: { host: '127.0.0.1', port } }, timeSyncS: 5 } })
    await hub.start()
    const url = `mqtt://127.0.0.1:${port}`
    const link = ['--mqtt', url, '--network', net.net.id, '--interval', '1', '--resend-ms', '1000']

    writeKeySubset(hub.deviceKeysPath, join(net.dir, 'good.json'), ids.slice(0, 2))
    writeKeySubset(hub.deviceKeysPath, join(net.dir, 'skewed.json'), ids.slice(2))
    const good = emulator(net, 'emu-good', join(net.dir, 'good.json'))
    const skewed = emulator(net, 'emu-skewed', join(net.dir, 'skewed.json'))
    good.start(link)
    // Its RTC is 2 h fast and it made 3 reports before the hub could set it: they end in the hub's future.
    skewed.start([...link, '--skew-s', '7200', '--backfill', '3'])
    // At least the 3 backfilled ones: under load a report made before the time sync arrives is refused too.
    await waitFor('3 reports refused "clock", then reports stored after the time sync', () => {
      const a = skewed.acks()
      return a.filter(x => x.why === 'clock').length >= 3 && a.filter(x => x.st === 'stored').length >= 2
    }, { timeoutMs: 30_000, describe: () => JSON.stringify(skewed.acks()) })
    const refused = skewed.acks().filter(a => a.st === 'refused')
    assert.ok(refused.every(a => a.why === 'clock'))
    for (const a of refused) assert.equal(await getStatusCode(`${hub.url ?? ''}/reports/${a.d}/${a.c}`), 404, 'a refused report is not stored')
    const rows = JSON.parse((await runCli(['devices', '--data-dir', hub.dir, '--json'])).stdout) as DeviceLinkStatus[]
    const bad = rows.find(r => r.device === ids[2])
    assert.equal(bad?.lastRefusal, 'clock')
    assert.ok((bad?.errors ?? 0) >= new Set(refused.map(a => a.c)).size, 'an error counted for each refused report')
    assert.ok(rows.every(r => r.link === `mqtt:${url}` && r.connected), JSON.stringify(rows))

    // A clean stop takes the broker down with the hub; the devices reconnect when it is back.
    const before = good.durable().size
    const exit = await hub.stop()
    assert.deepEqual(exit, { code: 0, signal: null }, 'the hub stops cleanly with its device links')
    await hub.start()
    await waitFor('devices back on the embedded broker, reports acknowledged again', () => good.durable().size >= before + 6, { timeoutMs: 30_000 })
    await good.stop()
    await skewed.stop()
    const r = await assertExactlyOnce(net, hub, good)
    const stored = await storedReports(net, hub)
    for (const k of skewed.durable()) assert.ok(stored.has(k))
    console.log(`      ${refused.length} refused "clock"; good devices: ${r.acked} acked (${r.duplicates} as duplicate) across a restart, ${r.stored} stored in all, none twice`)
  })
})
