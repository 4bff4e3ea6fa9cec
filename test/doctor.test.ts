import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { HealthReport } from '@ecandle/client'
import { Testnet, TestHub, getStatusCode, printTailsOnFailure, runCli, waitFor } from './lib/testnet.js'

/**
 * `ecandle doctor` and GET /health on real hub processes: green on a healthy testnet hub, and the
 * right check turns amber or red, with its reason and fix, for a key of mode 0644, a clock two
 * minutes off (the clockOffsetMs test setting), no peers, a silent device and a nearly full disk
 * (a 16 MiB tmpfs data dir: mounting needs root, as CI is).
 */
describe('ecandle doctor and GET /health', function () {
  this.timeout(120_000)
  let net: Testnet | undefined
  let tmpfs: string | undefined
  let extra: TestHub | undefined

  afterEach(async function () {
    printTailsOnFailure(this, net)
    await extra?.stop()
    if (tmpfs !== undefined) execFileSync('umount', [tmpfs])
    await net?.destroy()
    net = undefined; tmpfs = undefined; extra = undefined
  })

  async function doctor (dir: string): Promise<{ code: number | null, report: HealthReport }> {
    const r = await runCli(['doctor', '--data-dir', dir, '--json'])
    return { code: r.code, report: JSON.parse(r.stdout) as HealthReport }
  }
  const check = (r: HealthReport, name: string): HealthReport['checks'][number] => {
    const c = r.checks.find(x => x.check === name)
    assert.ok(c !== undefined, `check ${name} in ${JSON.stringify(r.checks.map(x => x.check))}`)
    return c
  }
  const summary = (r: HealthReport): string => r.checks.map(c => `${c.check}=${c.level}`).join(' ')

  it('green on a healthy hub; key 0644, a silent device, a clock 2 min off, no peers and low disk each named with a fix', async () => {
    net = await Testnet.create({ hubs: 2, devicesPerHub: 3 })
    const t = net
    const [h1, h2] = t.hubs
    // hub-2: one of its devices never reports (left out of its emulator's keys), silent after 2 s.
    const silentId = t.net.def.devices.filter(d => d.hub === h2.peerId)[2].id
    const keys = JSON.parse(readFileSync(h2.deviceKeysPath, 'utf8')) as { devices: Array<{ id: string }> }
    writeFileSync(h2.deviceKeysPath, JSON.stringify({ devices: keys.devices.filter(d => d.id !== silentId) }), { mode: 0o600 })
    h2.configure(c => { c.health = { deviceSilentS: 2 } })
    await t.start()

    // Healthy: every check green, the CLI exits 0, GET /health answers 200 with the same checks.
    const green = await waitFor('hub-1 all green', async () => {
      const d = await doctor(h1.dir)
      return d.report.status === 'green' ? d : undefined
    }, { timeoutMs: 30_000, intervalMs: 500, describe: async () => summary((await doctor(h1.dir)).report) })
    assert.equal(green.code, 0)
    assert.deepEqual(green.report.checks.map(c => c.check), ['key', 'vote-guard', 'network', 'database', 'role', 'peers', 'clock', 'devices', 'disk', 'epoch'])
    assert.equal(await getStatusCode(`${h1.url ?? ''}/health`), 200)
    const text = await runCli(['doctor', '--data-dir', h1.dir])
    assert.equal(text.code, 0)
    assert.equal(text.stdout.trim().split('\n').length, 1 + green.report.checks.length, 'a head line, then one line per check')
    assert.ok(text.stdout.trim().split('\n').slice(1).every(l => l.startsWith('green')), text.stdout)

    // Key readable by others: red, exit 1, 503.
    chmodSync(join(h1.dir, 'hub.key'), 0o644)
    const k = await doctor(h1.dir)
    assert.equal(k.code, 1)
    assert.equal(check(k.report, 'key').level, 'red')
    assert.match(check(k.report, 'key').message, /mode 0644/)
    assert.match(check(k.report, 'key').fix ?? '', /chmod 600/)
    assert.equal(await getStatusCode(`${h1.url ?? ''}/health`), 503)
    chmodSync(join(h1.dir, 'hub.key'), 0o600)

    // A device silent: amber, named.
    const s = await waitFor('hub-2 devices amber', async () => {
      const d = await doctor(h2.dir)
      return check(d.report, 'devices').level === 'amber' ? d : undefined
    }, { timeoutMs: 15_000, intervalMs: 500 })
    assert.equal(s.code, 0, 'amber alone does not fail')
    assert.match(check(s.report, 'devices').message, new RegExp(`1 of 3 devices silent.*${silentId}`))

    // Clock 2 minutes ahead on hub-2: red on hub-2 (ahead), and hub-1 sees the difference too.
    await h2.stop()
    h2.configure(c => { c.clockOffsetMs = 120_000 })
    await h2.start()
    const c2 = await waitFor('hub-2 clock red', async () => {
      const d = await doctor(h2.dir)
      return check(d.report, 'clock').level === 'red' ? d : undefined
    }, { timeoutMs: 20_000, intervalMs: 500, describe: async () => check((await doctor(h2.dir)).report, 'clock').message })
    assert.equal(c2.code, 1)
    assert.match(check(c2.report, 'clock').message, /^1[12]\d\.\d s ahead of the other hubs/)
    assert.match(check(c2.report, 'clock').fix ?? '', /ntp/i)
    assert.match(check((await doctor(h1.dir)).report, 'clock').message, /s behind the other hubs/)

    // No peers: hub-1 stops, hub-2 is alone.
    await h1.stop()
    const p = await waitFor('hub-2 peers red', async () => {
      const d = await doctor(h2.dir)
      return check(d.report, 'peers').level === 'red' ? d : undefined
    }, { timeoutMs: 20_000, intervalMs: 500 })
    assert.match(check(p.report, 'peers').message, /^no peers/)
    // hub-1 is down: doctor says so, and still checks its files.
    const down = await doctor(h1.dir)
    assert.equal(down.code, 1)
    assert.equal(check(down.report, 'hub').level, 'red')
    assert.equal(check(down.report, 'database').level, 'green')

    // Low disk: hub-1's data dir moved to a 16 MiB tmpfs.
    tmpfs = join(t.dir, 'small-disk')
    mkdirSync(tmpfs)
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0700', 'tmpfs', tmpfs], { stdio: ['ignore', 'ignore', 'pipe'] })
    } catch (err) {
      tmpfs = undefined
      throw new Error(`this test mounts a small tmpfs and needs root: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`)
    }
    const small = join(tmpfs, 'hub-1')
    cpSync(h1.dir, small, { recursive: true })
    extra = new TestHub(0, small, h1.peerId, h1.port)
    extra.configure(c => { c.network = t.networkPath })
    await extra.start()
    const d = await doctor(small)
    assert.equal(d.code, 1)
    assert.equal(check(d.report, 'disk').level, 'red')
    assert.match(check(d.report, 'disk').message, /MiB free of 16 MiB/)
  })
})
