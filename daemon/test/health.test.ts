import assert from 'node:assert/strict'
import { parseNetwork, peerIdFromPublicKey, signerFromSeed, toHex, generateSeed, type NetworkDefinition } from '@ecandle/protocol'
import { ClockSkew } from '../src/clock-skew.js'
import { clockCheck, devicesCheck, epochCheck, peersCheck, worst, HEALTH_LIMITS } from '../src/health.js'

/** A network of `hubs` validators, each with `devices` devices; genesis at `genesis` (unix s). */
function network (hubs: number, devices: number, genesis = 1_700_000_000): { net: ReturnType<typeof parseNetwork>, ids: string[] } {
  const ids = Array.from({ length: hubs }, () => peerIdFromPublicKey(signerFromSeed(generateSeed()).publicKey))
  const acct = toHex(signerFromSeed(generateSeed()).publicKey)
  const def: NetworkDefinition = {
    name: 't', genesisTime: genesis, epochLengthS: 60, gracePeriodS: 10, emissionPerEpoch: '1000', capexBps: 6000, deviceCapMwhPerEpoch: '1000',
    validators: ids.map(peerId => ({ peerId, operator: acct, location: { latE6: 0, lonE6: 0 } })),
    devices: ids.flatMap((hub, h) => Array.from({ length: devices }, (_, j) => ({ id: `h${h}-d${j}`, publicKey: toHex(signerFromSeed(generateSeed()).publicKey), hub, capex: acct, opex: acct, ratedWhPerDay: 100 }))),
    bootstrap: []
  }
  return { net: parseNetwork(def), ids }
}

describe('health checks (pure rules)', () => {
  it('clock skew: the smallest difference per hub, the median over hubs, old samples forgotten', () => {
    let now = 1_000_000
    const skew = new ClockSkew(() => now, 'me')
    assert.equal(skew.estimate(), undefined)
    skew.sample('me', now - 99_000) // our own entries never count
    assert.equal(skew.estimate(), undefined)
    // hub a: our clock 120 s ahead; arrivals delayed 5..500 ms (late copies from sync too).
    for (const delay of [500, 5, 90_000, 40]) skew.sample('a', now - 120_000 - delay)
    skew.sample('b', now - 120_010)
    skew.sample('c', now + 3_000) // c runs 3 s ahead of us
    const e = skew.estimate()
    assert.equal(e?.hubs, 3)
    assert.equal(e?.perHub.a, 120_005)
    assert.equal(e?.skewMs, 120_005, 'median of -3000, 120005, 120010')
    now += 11 * 60_000
    assert.equal(skew.estimate(), undefined, 'samples older than 10 min are gone')
  })

  it('clock: green, amber, red by the thresholds; alone is green; no sample is amber', () => {
    const { net, ids } = network(3, 0)
    assert.equal(clockCheck(net, ids[0], { skewMs: 500, hubs: 2 }).level, 'green')
    assert.equal(clockCheck(net, ids[0], { skewMs: -(HEALTH_LIMITS.clockGreenMs + 1), hubs: 2 }).level, 'amber')
    const red = clockCheck(net, ids[0], { skewMs: -120_000, hubs: 2 })
    assert.equal(red.level, 'red')
    assert.match(red.message, /^120\.0 s behind the other hubs \(median of 2\).*this hub ignores/)
    assert.equal(clockCheck(net, ids[0], undefined).level, 'amber')
    const solo = network(1, 0)
    assert.equal(clockCheck(solo.net, solo.ids[0], undefined).level, 'green')
  })

  it('peers: none is red, some amber with the missing named, all green with how they are reached', () => {
    const { net, ids } = network(4, 0)
    assert.equal(peersCheck(net, ids[0], []).level, 'red')
    const some = peersCheck(net, ids[0], [{ peer: ids[1], addr: '/ip4/10.0.0.2/tcp/4001' }])
    assert.equal(some.level, 'amber')
    assert.match(some.message, new RegExp(`1 of 3 other hubs \\(direct tcp: 1\\); not to ${ids[2]}, ${ids[3]}`))
    const all = peersCheck(net, ids[0], [
      { peer: ids[1], addr: '/ip4/10.0.0.2/tcp/4001' }, { peer: ids[2], addr: '/ip4/10.0.0.3/tcp/4002/ws' },
      { peer: ids[3], addr: '/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWRelay/p2p-circuit' }, { peer: 'light-peer', addr: '/ip4/10.0.0.9/tcp/5000' }
    ])
    assert.equal(all.level, 'green')
    assert.match(all.message, /all 3 other hubs \(direct tcp: 1, direct websocket: 1, relayed: 1\); 4 peers in all/)
  })

  it('devices: silent ones named (heard long ago, or never since start); none registered is green', () => {
    const { net, ids } = network(2, 3)
    const now = 10_000_000
    const o = { now, startedAt: now - 600_000, silentS: 300 }
    assert.equal(devicesCheck(net, ids[0], [{ device: 'h0-d0', lastReportAt: now - 1000 }, { device: 'h0-d1', lastReportAt: now - 1000 }, { device: 'h0-d2', lastReportAt: now }], o).level, 'green')
    const c = devicesCheck(net, ids[0], [{ device: 'h0-d0', lastReportAt: now - 301_000 }, { device: 'h0-d1', lastReportAt: now }], o)
    assert.equal(c.level, 'amber')
    assert.match(c.message, /^2 of 3 devices silent for more than 300 s: h0-d0 \(last report 301 s ago\), h0-d2 \(not heard since the hub started\)/)
    assert.equal(devicesCheck(net, ids[0], [], { ...o, startedAt: now - 1000 }).level, 'green', 'just started: not silent yet')
    const refused = devicesCheck(net, ids[0], [], { ...o, startedAt: now - 1000, linkErrors: ['mqtt: Connection refused: Not authorized'] })
    assert.equal(refused.level, 'amber')
    assert.match(refused.message, /device link cannot connect: mqtt: Connection refused: Not authorized/)
    const solo = network(1, 0)
    assert.equal(devicesCheck(solo.net, solo.ids[0], [], o).level, 'green')
  })

  it('epoch: none due, decided in time, overdue', () => {
    const g = 1_700_000_000
    const { net } = network(1, 0, g)
    const at = (s: number): number => (g + s) * 1000
    assert.equal(epochCheck(net, undefined, at(100)).level, 'green', 'epoch 0 votes at 70 s, overdue at 130 s')
    assert.equal(epochCheck(net, undefined, at(131)).level, 'amber')
    assert.equal(epochCheck(net, 0, at(131)).level, 'green')
    assert.match(epochCheck(net, 0, at(10 * 60)).message, /last decided epoch 0, but epoch 7 should be decided by now/)
  })

  it('the report is as bad as its worst check', () => {
    assert.equal(worst([]), 'green')
    assert.equal(worst([{ check: 'a', level: 'green', message: '' }, { check: 'b', level: 'amber', message: '' }]), 'amber')
    assert.equal(worst([{ check: 'a', level: 'red', message: '' }, { check: 'b', level: 'amber', message: '' }]), 'red')
  })
})

describe('health checks under governance (the hub\'s network state, not the network file)', () => {
  it('role, peers and devices follow the validators and registry in force', async () => {
    const { govFixture, deviceAddOp, op, resolution } = await import('@ecandle/protocol/testing')
    const { decideGovernance, genesisState, verifyOperation, verifyResolution } = await import('@ecandle/protocol')
    const f = govFixture({ hubs: 4 })
    const { roleCheck } = await import('../src/health.js')
    const newHub = peerIdFromPublicKey(f.spareHubs[0].publicKey)
    const s0 = genesisState(f.net)
    const add = op(f, { type: 'hub-add', exp: 10, hub: newHub, operator: f.spareOperators[0].publicKey }, { hub: f.spareHubs[0], operator: f.spareOperators[0] })
    const dev = deviceAddOp(f, { id: 'gov-1', key: f.stranger, hub: 0, exp: 10, maker: f.maker })
    const s1 = decideGovernance(s0, [add, dev].map(b => verifyResolution(f.net.id, resolution(f, b, verifyOperation(f.net.id, b).id, b === add ? f.hubs.slice(0, 3) : [])))).next
    assert.equal(roleCheck(f.net, newHub).level, 'amber', 'by the network file: a follower')
    assert.equal(roleCheck(f.net, newHub, s0).level, 'amber')
    assert.equal(roleCheck(f.net, newHub, s1).level, 'green', 'a validator of the next epoch')
    assert.match(roleCheck(f.net, newHub, s1).message, /from epoch 2/)
    const now = 1_000_000
    const heard = (ids: string[]): Array<{ device: string, lastReportAt: number }> => ids.map(device => ({ device, lastReportAt: now }))
    const genesisMine = f.net.def.devices.filter(d => d.hub === f.hubIds[0]).map(d => d.id)
    assert.equal(devicesCheck(f.net, f.hubIds[0], heard(genesisMine), { now, startedAt: 0, silentS: 60 }).level, 'green')
    assert.equal(devicesCheck(f.net, f.hubIds[0], heard(genesisMine), { now, startedAt: 0, silentS: 60, state: s1 }).level, 'amber', 'the device added by governance is silent')
    assert.equal(devicesCheck(f.net, f.hubIds[0], heard([...genesisMine, 'gov-1']), { now, startedAt: 0, silentS: 60, state: s1 }).level, 'green')
    assert.match(peersCheck(f.net, f.hubIds[0], [], s1).message, /none of the 3/)
  })
})
