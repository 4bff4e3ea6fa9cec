import assert from 'node:assert/strict'
import { auditLogs, EventTap, getStatusCode, printTailsOnFailure, Testnet, waitFor, type EntryJson } from './lib/testnet.js'

describe('a hub killed with SIGKILL mid-run', function () {
  let tn: Testnet | undefined
  let tap: EventTap | undefined

  afterEach(function () { printTailsOnFailure(this, tn) })
  after(async () => {
    tap?.close()
    await tn?.destroy()
  })

  it('still has every report it acknowledged after a restart, and catches up', async function () {
    this.timeout(90_000)
    // Entries every 2 s and a report per device per second: at any moment several reports are
    // between "received" and "written"; the kill below lands in the middle of that window.
    const ENTRY_MS = 2000
    tn = await Testnet.create({ hubs: 3, devicesPerHub: 5, reportIntervalS: 1, entryIntervalMs: ENTRY_MS })
    const net = tn
    const victim = net.hubs[1]
    const others = [net.hubs[0], net.hubs[2]]
    await net.start()
    await waitFor('every hub connected to both others', async () => (await net.statuses()).every(s => s.peers >= 2), { timeoutMs: 20_000 })

    // Every entry the victim stores is announced on its event stream after the synced write and
    // before its reports are acked to the devices.
    tap = new EventTap(victim.url as string)
    await tap.opened()
    const ownEvents = (): number => tap?.events.filter(e => e.event === 'entry' && e.data.hub === victim.peerId).length ?? 0
    await waitFor(`${victim.name}'s own log to reach seq 5`, async () => ((await victim.status()).heads[victim.peerId]?.seq ?? 0) >= 5 ? true : undefined, { timeoutMs: 30_000 })
    const st = await victim.status()
    const own = await victim.logEntries(victim.peerId, st.heads[victim.peerId].seq)

    // Kill half an entry interval after its next entry: the moment when the most reports are
    // received but not yet written (a hub that acked before its synced write would lose them).
    const n = ownEvents()
    await waitFor(`${victim.name}'s next own entry on GET /events`, () => ownEvents() > n ? true : undefined, { timeoutMs: 10_000, intervalMs: 20 })
    await new Promise(resolve => setTimeout(resolve, ENTRY_MS / 2))
    // Right before the kill, what its devices were told (GET /devices: `counter` is the last
    // counter the hub acknowledged to each device).
    const devices = await victim.get<Array<{ device: string, counter?: number }>>('/devices')
    await victim.kill()
    tap.close()
    await tap.done

    const acked = new Set<string>()
    for (const e of own) for (const r of e.reports) acked.add(`${r.device}:${r.counter}`)
    const seenIds = new Map<number, string>(own.map(e => [e.seq, e.id]))
    for (const ev of tap.events) {
      if (ev.event !== 'entry' || ev.data.hub !== victim.peerId) continue
      for (const k of ev.data.reportIds as string[]) acked.add(k)
      seenIds.set(ev.data.seq, ev.data.id)
    }
    for (const d of devices) {
      assert.ok(d.counter !== undefined, `${victim.name}'s device ${d.device} had nothing acknowledged before the kill`)
      acked.add(`${d.device}:${String(d.counter)}`)
    }
    assert.equal(devices.length, 5)
    const lastSeen = Math.max(...seenIds.keys())
    assert.ok(acked.size >= 25, `only ${acked.size} reports acknowledged before the kill`)
    assert.ok(!victim.alive, `${victim.name} is dead`)

    // The others carry on without it.
    for (const h of others) assert.ok(h.alive, `${h.name} still runs`)
    await waitFor('the two survivors to keep appending', async () => {
      const s = await net.statuses(others)
      return s.every(x => (x.heads[x.peerId]?.seq ?? 0) > (st.heads[x.peerId]?.seq ?? 0) + 2) ? true : undefined
    }, { timeoutMs: 20_000 })

    // Restart on the same data dir.
    await victim.start()
    const restarted = await victim.status()
    assert.ok((restarted.heads[victim.peerId]?.seq ?? 0) >= lastSeen, `${victim.name} restarted at own seq ${restarted.heads[victim.peerId]?.seq ?? 0}, below ${lastSeen} seen before the kill`)

    // Every acknowledged report is still there, in the entry it was acknowledged in.
    const keys = [...acked]
    for (let i = 0; i < keys.length; i += 32) {
      await Promise.all(keys.slice(i, i + 32).map(async k => {
        const [device, counter] = k.split(':')
        const code = await getStatusCode(`${victim.url as string}/reports/${device}/${counter}`)
        assert.equal(code, 200, `report ${k} acknowledged before the kill is missing after the restart (GET /reports → ${code})`)
      }))
    }
    for (const [seq, id] of seenIds) {
      const [e] = await victim.get<EntryJson[]>(`/logs/${victim.peerId}?from=${seq}&limit=1`)
      assert.equal(e?.id, id, `${victim.name}'s own entry #${seq} changed across the crash`)
    }

    // It goes on with its own log (new entries chained after the old ones) and all three agree.
    const minSeq = { [victim.peerId]: lastSeen + 2 }
    const snap = await net.waitConverged({ hubs: net.hubs, minSeq, timeoutMs: 40_000 })
    for (const [i, hub] of net.hubs.entries()) {
      const a = await auditLogs(hub, net.net, snap[i].heads)
      assert.equal(a.reports, snap[i].reports, `${hub.name}: ${a.reports} reports in its logs, status says ${snap[i].reports}`)
      for (const k of keys) assert.ok(a.keys.has(k), `${hub.name} lacks report ${k} of ${victim.name}'s log`)
    }
  })
})
