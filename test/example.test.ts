import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { printTailsOnFailure, Testnet, waitFor, type EntryJson } from './lib/testnet.js'

/**
 * examples/live-energy as a separate process against a real 3-hub testnet: an app built only on
 * @ecandle/client and a libp2p node of its own, dialling one hub. Its figures are checked against
 * what the hubs store.
 */

const APP = fileURLToPath(new URL('../../examples/dist/live-energy.js', import.meta.url))

interface AppRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

interface Row {
  hub: string
  name: string
  devices: number
  deviceIds: string[]
  reports: number
  entries: number
  energyMwh: number
  energyWh: number
  lastSeq: number
  seqs: number[]
  certified: { epoch: number, energyMwh: number, reports: number, complete: boolean } | null
}

interface Summary {
  type: 'summary'
  network: string
  peer: string
  communities: Row[]
  certificates: Array<{ epoch: number, valueId: string, root: string, round: number, signers: string[], cut: number[] }>
  invalid: number
}

/**
 * Runs the app; `onOutput(stdout so far, child)` may act on what it printed (e.g. send SIGINT).
 * Kills it after `timeoutMs` (a failure: it must stop by itself).
 */
async function runApp (args: string[], timeoutMs: number, onOutput?: (stdout: string, kill: (s: NodeJS.Signals) => void) => void): Promise<AppRun> {
  const child = spawn(process.execPath, [APP, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; onOutput?.(stdout, s => child.kill(s)) })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(resolve => child.once('close', (c, s) => { resolve([c, s]) }))
  clearTimeout(timer)
  if (signal === 'SIGKILL') throw new Error(`live-energy did not exit within ${timeoutMs} ms; stdout:\n${stdout}\nstderr:\n${stderr}`)
  return { code, signal, stdout, stderr }
}

const jsonLines = (stdout: string): any[] => stdout.split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l))

describe('examples/live-energy: an app on @ecandle/client against a real testnet', function () {
  let tn: Testnet
  let peer: string

  before(async function () {
    this.timeout(60_000)
    tn = await Testnet.create({ hubs: 3, devicesPerHub: 2, epochLengthS: 5, gracePeriodS: 2 })
    await tn.start()
    await waitFor('every hub connected to the 2 others', async () => (await tn.statuses()).every(s => s.peers >= 2), { timeoutMs: 20_000 })
    // The app should see certificates while it runs: start it once the hubs decide epochs.
    await waitFor('every hub to decide epoch 0', async () => (await tn.statuses()).every(s => s.lastEpoch !== null), { timeoutMs: 40_000 })
    const s = await tn.hubs[0].status()
    peer = s.addrs.find(a => a.endsWith(`/p2p/${s.peerId}`))!
    assert.ok(peer !== undefined, `hub-1 has a /p2p/ address: ${s.addrs.join(' ')}`)
  })
  afterEach(function () { printTailsOnFailure(this, tn) })
  after(async function () {
    this.timeout(30_000)
    await tn?.destroy()
  })

  it('--seconds --json: entries and energy of every community, matching what the hubs store', async function () {
    this.timeout(60_000)
    const run = await runApp(['--network', tn.networkPath, '--peer', peer, '--seconds', '12', '--every', '2', '--json'], 40_000)
    assert.equal(run.code, 0, `exit code; stderr:\n${run.stderr}`)
    const lines = jsonLines(run.stdout)
    assert.ok(lines.some(l => l.type === 'connected'), 'it dialled the hub')
    assert.ok(lines.filter(l => l.type === 'tick').length >= 3, 'it printed the table every 2 s')
    const summary = lines[lines.length - 1] as Summary
    assert.equal(summary.type, 'summary', 'the last line is the summary')
    assert.equal(summary.network, tn.net.id)
    assert.equal(summary.invalid, 0, 'honest hubs send nothing invalid')
    assert.deepEqual(summary.communities.map(c => c.hub), tn.net.validatorIds, 'one row per hub, in network order')

    // What hub-1 stores of every log, up to the heads it has now (after the app stopped).
    const status = await tn.hubs[0].status()
    for (const c of summary.communities) {
      const who = `${c.name}`
      assert.ok(c.entries > 0 && c.reports > 0, `${who}: entries (${c.entries}) and reports (${c.reports}) received`)
      assert.ok(c.energyMwh > 0, `${who}: energy > 0 (${c.energyMwh} mWh)`)
      assert.equal(c.energyWh, c.energyMwh / 1000)
      const registered = tn.net.def.devices.filter(d => d.hub === c.hub).map(d => d.id)
      assert.ok(c.devices >= 1 && c.deviceIds.every(d => registered.includes(d)), `${who}: devices ${c.deviceIds.join(',')} are this hub's (${registered.join(',')})`)
      assert.equal(c.entries, c.seqs.length)
      const head = status.heads[c.hub]?.seq ?? 0
      assert.ok(c.lastSeq <= head, `${who}: last seq seen ${c.lastSeq} ≤ hub-1's head ${head}`)
      // Exactly the reports and energy the hub stores in the entries the app received.
      const stored = await tn.hubs[0].logEntries(c.hub, head)
      const bySeq = new Map<number, EntryJson>(stored.map(e => [e.seq, e]))
      const picked = c.seqs.map(s => bySeq.get(s)!)
      assert.equal(c.reports, picked.reduce((n, e) => n + e.reports.length, 0), `${who}: reports match the hub's entries ${c.seqs.join(',')}`)
      assert.equal(c.energyMwh, picked.reduce((n, e) => n + e.reports.reduce((m, r) => m + r.energyMwh, 0), 0), `${who}: energy matches the hub's entries`)
      assert.ok(c.reports <= stored.reduce((n, e) => n + e.reports.length, 0), `${who}: no more reports than the hub stores for that log`)
    }

    // Certificates seen live are the ones the hubs decided.
    assert.ok(summary.certificates.length >= 1, 'at least one certificate arrived in 12 s of 5 s epochs')
    for (const cert of summary.certificates) {
      const e = await tn.hubs[0].get<{ valueId: string, root: string, cut: Array<{ seq: number }> }>(`/epochs/${cert.epoch}`)
      assert.equal(cert.valueId, e.valueId, `epoch ${cert.epoch}: value id`)
      assert.equal(cert.root, e.root)
      assert.deepEqual(cert.cut, e.cut.map(x => x.seq))
      assert.ok(cert.signers.length >= 3, 'a quorum of 3 hubs signed')
    }
    const last = summary.communities[0].certified
    assert.ok(last !== null && last.epoch === Math.max(...summary.certificates.map(c => c.epoch)), 'the table shows the last certified epoch')
  })

  it('without --seconds: prints the table until SIGINT, then a final summary, and stops cleanly', async function () {
    this.timeout(60_000)
    let sent = false
    const run = await runApp(['--network', tn.networkPath, '--peer', peer, '--every', '1'], 40_000, (out, kill) => {
      // Stop once a table shows reports from every community.
      const tables = out.split('\nlive energy · ').slice(1)
      const lastTable = tables[tables.length - 1] ?? ''
      const rows = lastTable.split('\n').filter(l => l.startsWith('hub-'))
      // Columns after the name: devices, reports, energy Wh (3 decimals).
      const reports = rows.map(r => Number(/\s(\d+)\s+(\d+)\s+\d+\.\d{3}\s/.exec(r)?.[2] ?? 0))
      if (!sent && rows.length === 3 && reports.every(n => n > 0)) {
        sent = true
        kill('SIGINT')
      }
    })
    assert.ok(sent, `it never showed reports of all 3 communities; stdout:\n${run.stdout}\nstderr:\n${run.stderr}`)
    assert.equal(run.code, 0, `exit code after SIGINT; stderr:\n${run.stderr}`)
    assert.match(run.stdout, /^connected to \/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//m)
    assert.match(run.stdout, /stopped \(SIGINT\): [1-9]\d* entries and \d+ certificates verified \(\d+ by gossip\), 0 invalid/)
    for (let i = 1; i <= 3; i++) assert.match(run.stdout, new RegExp(`^hub-${i} …`, 'm'), `a row for hub-${i}`)
  })
})
