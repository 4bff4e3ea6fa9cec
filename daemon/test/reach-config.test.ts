import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ReachStatus } from '@ecandle/api'
import { CliError, loadConfig, parseMultiaddrs } from '../src/index.js'
import { parseReachConfig } from '../src/reach-config.js'
import { reachAdvice, ReachWatch } from '../src/reach-watch.js'

const PEER = '12D3KooWKcs31iJqYLZbNpqPHri8vWeLmNhRDpVuR7gJQf6v95Xo'
const cliError = (part: string) => (err: unknown): boolean => err instanceof CliError && err.message.includes(part)

describe('reach config (config.json "reach", listen/announce/bootstrap)', () => {
  const LAN = ['/ip4/0.0.0.0/tcp/4001']

  it('defaults: mDNS on unless listening on loopback only, UPnP off, hole punching from listen port + 1, relay server auto', () => {
    const c = parseReachConfig(undefined, LAN)
    assert.equal(c.mdns, true)
    assert.equal(c.upnp, false)
    assert.equal(c.holePunchPort, 4002)
    assert.deepEqual(c.relay, { server: 'auto', reservations: 2, maxReservations: 64, durationLimitS: 3600, dataLimitBytes: 64 * 1024 * 1024 })
    assert.equal(parseReachConfig({}, ['/ip4/127.0.0.1/tcp/4001', '/ip6/::1/tcp/4001']).mdns, false, 'a testnet on one host does not multicast on the LAN')
    assert.equal(parseReachConfig({}, ['/ip4/127.0.0.1/tcp/4001', '/ip4/192.168.1.2/tcp/4001']).mdns, true)
  })

  it('takes the hole-punch port from the first fixed TCP (not WebSockets) listen port, or none', () => {
    assert.equal(parseReachConfig({}, ['/ip4/0.0.0.0/tcp/4003/ws', '/ip4/0.0.0.0/tcp/4101']).holePunchPort, 4102)
    assert.equal(parseReachConfig({}, ['/ip4/0.0.0.0/tcp/0']).holePunchPort, undefined, 'a random listen port: no fixed punch port')
    assert.equal(parseReachConfig({}, ['/ip4/0.0.0.0/tcp/65535']).holePunchPort, undefined)
    assert.equal(parseReachConfig({ holePunch: false }, LAN).holePunchPort, undefined)
    assert.equal(parseReachConfig({ holePunch: { port: 5000 } }, LAN).holePunchPort, 5000)
  })

  it('takes every switch and limit from the file (data limit in MiB)', () => {
    const c = parseReachConfig({ mdns: false, upnp: true, relay: { server: 'off', reservations: 0, maxReservations: 8, durationLimitS: 600, dataLimitMiB: 16 } }, LAN)
    assert.equal(c.mdns, false)
    assert.equal(c.upnp, true)
    assert.deepEqual(c.relay, { server: 'off', reservations: 0, maxReservations: 8, durationLimitS: 600, dataLimitBytes: 16 * 1024 * 1024 })
  })

  it('refuses bad values with the field named', () => {
    const bad: Array<[unknown, string]> = [
      [[], 'reach must be an object'],
      [{ colour: 'red' }, 'unknown field "reach.colour"'],
      [{ mdns: 'yes' }, 'reach.mdns must be true or false'],
      [{ upnp: 1 }, 'reach.upnp must be true or false'],
      [{ holePunch: 'on' }, 'reach.holePunch must be true, false or'],
      [{ holePunch: { port: 0 } }, 'reach.holePunch.port must be an integer in [1, 65535]'],
      [{ holePunch: { prot: 5 } }, 'unknown field "reach.holePunch.prot"'],
      [{ relay: [] }, 'reach.relay must be an object'],
      [{ relay: { server: 'yes' } }, 'reach.relay.server must be "auto", "on" or "off"'],
      [{ relay: { reservations: 9 } }, 'reach.relay.reservations must be an integer in [0, 8]'],
      [{ relay: { maxReservations: 0 } }, 'reach.relay.maxReservations'],
      [{ relay: { durationLimitS: 1.5 } }, 'reach.relay.durationLimitS'],
      [{ relay: { dataLimitMiB: 0 } }, 'reach.relay.dataLimitMiB'],
      [{ relay: { dataLimitBytes: 5 } }, 'unknown field "reach.relay.dataLimitBytes"']
    ]
    for (const [v, msg] of bad) assert.throws(() => parseReachConfig(v, LAN), cliError(msg), JSON.stringify(v))
  })

  it('parses address lists: a typo names the field and the address; bootstrap peers need a peer id', () => {
    assert.deepEqual(parseMultiaddrs('--listen', ['/ip4/0.0.0.0/tcp/4001', '/ip4/127.0.0.1/tcp/4002/ws']), ['/ip4/0.0.0.0/tcp/4001', '/ip4/127.0.0.1/tcp/4002/ws'])
    assert.throws(() => parseMultiaddrs('--listen', ['/ip4/0.0.0.0/tpc/4001']), cliError('--listen: "/ip4/0.0.0.0/tpc/4001" is not a multiaddr'))
    assert.throws(() => parseMultiaddrs('config: announce', '/ip4/1.2.3.4/tcp/1'), cliError('config: announce must be a list of multiaddrs'))
    assert.throws(() => parseMultiaddrs('--bootstrap', ['/ip4/203.0.113.5/tcp/4001'], true), cliError('must end in /p2p/<peer id>'))
    assert.deepEqual(parseMultiaddrs('--bootstrap', [`/ip4/203.0.113.5/tcp/4001/p2p/${PEER}`], true), [`/ip4/203.0.113.5/tcp/4001/p2p/${PEER}`])
  })

  describe('in config.json, the environment and flags', () => {
    let dir: string
    beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'ecandle-reach-config-')) })
    afterEach(async () => { await rm(dir, { recursive: true, force: true }) })
    const write = async (c: object): Promise<void> => { await writeFile(join(dir, 'config.json'), JSON.stringify({ network: 'n.json', ...c })) }

    it('layers listen, announce and bootstrap: file, then ECANDLE_*, then flags', async () => {
      const boot = `/ip4/203.0.113.5/tcp/4001/p2p/${PEER}`
      await write({ listen: ['/ip4/0.0.0.0/tcp/4101'], announce: ['/ip4/203.0.113.7/tcp/4101'], bootstrap: [boot], reach: { upnp: true } })
      const fromFile = await loadConfig(dir, {}, {})
      assert.deepEqual([fromFile.listen, fromFile.announce, fromFile.bootstrap], [['/ip4/0.0.0.0/tcp/4101'], ['/ip4/203.0.113.7/tcp/4101'], [boot]])
      assert.equal(fromFile.reach.upnp, true)
      assert.equal(fromFile.reach.holePunchPort, 4102, 'from the listen port in effect')
      const env = await loadConfig(dir, {}, { ECANDLE_ANNOUNCE: '/dns4/hub.example.org/tcp/443/wss,/ip4/203.0.113.8/tcp/4101', ECANDLE_LISTEN: '' })
      assert.deepEqual(env.announce, ['/dns4/hub.example.org/tcp/443/wss', '/ip4/203.0.113.8/tcp/4101'])
      assert.deepEqual(env.listen, ['/ip4/0.0.0.0/tcp/4101'], 'an empty variable is no override')
      const flags = await loadConfig(dir, { announce: [], bootstrap: [] }, { ECANDLE_ANNOUNCE: '/ip4/203.0.113.8/tcp/4101' })
      assert.deepEqual([flags.announce, flags.bootstrap], [[], []])
    })

    it('refuses a bad address or reach section, naming it', async () => {
      await write({ announce: ['/ip4/203.0.113.7/tcp/x'] })
      await assert.rejects(loadConfig(dir, {}, {}), cliError('config: announce: "/ip4/203.0.113.7/tcp/x" is not a multiaddr'))
      await write({ bootstrap: ['/ip4/203.0.113.5/tcp/4001'] })
      await assert.rejects(loadConfig(dir, {}, {}), cliError('config: bootstrap: "/ip4/203.0.113.5/tcp/4001" must end in /p2p/<peer id>'))
      await write({ reach: { relay: { server: 'sometimes' } } })
      await assert.rejects(loadConfig(dir, {}, {}), cliError('reach.relay.server'))
    })
  })
})

describe('reachability advice and logging (reach-watch.ts)', () => {
  const base: ReachStatus = { state: 'public', publicAddrs: [], relays: [], relayServer: { running: false, reservations: 0 }, nat: 'unknown', holePunches: 0, peers: { direct: 0, 'hole-punched': 0, relayed: 0, lan: 0 }, warnings: [], upnp: false, mdns: true }
  const config = { listen: ['/ip4/0.0.0.0/tcp/4101', '/ip4/0.0.0.0/tcp/4003/ws'], reach: parseReachConfig({}, ['/ip4/0.0.0.0/tcp/4101']) }

  it('tells a relayed hub which port to forward, and why hole punching cannot work behind a port-changing NAT', () => {
    const advice = reachAdvice({ ...base, state: 'relayed', relays: [PEER], nat: 'port-changing' }, config)!
    assert.match(advice, new RegExp(`relay ${PEER}`))
    assert.match(advice, /forward TCP port 4101/)
    assert.match(advice, /reach\.upnp: true/)
    assert.match(advice, /hole punching cannot work here/)
    assert.doesNotMatch(reachAdvice({ ...base, state: 'relayed', relays: [PEER], nat: 'port-preserving' }, config)!, /hole punching cannot/)
    assert.match(reachAdvice({ ...base, state: 'isolated', warnings: ['no-peers'] }, config)!, /Device reports are still taken/)
    assert.match(reachAdvice({ ...base, state: 'outbound-only' }, config)!, /add a public hub to the bootstrap list/)
    for (const state of ['public', 'hole-punched', 'lan'] as const) assert.equal(reachAdvice({ ...base, state }, config), undefined, state)
  })

  it('logs a state once it held for two checks, and the advice once per episode', () => {
    const infos: string[] = []
    const warns: string[] = []
    let s: ReachStatus = base
    const w = new ReachWatch(() => s, { info: (_o: object, m: string) => { infos.push(m) }, warn: (_o: object, m: string) => { warns.push(m) } } as any, config)
    w.check()
    assert.deepEqual(infos, [], 'a state seen once is not reported (connections come and go)')
    w.check()
    assert.deepEqual(infos, ['reachability: public'])
    s = { ...base, state: 'relayed', relays: [PEER], warnings: ['all-peers-relayed'] }
    w.check(); w.check(); w.check(); w.check()
    assert.deepEqual(infos, ['reachability: public', 'reachability: relayed'])
    assert.equal(warns.length, 1)
    s = { ...base, state: 'isolated', warnings: ['no-peers'] }
    w.check(); w.check()
    s = { ...base, state: 'relayed', relays: [PEER], warnings: ['all-peers-relayed'] }
    w.check(); w.check()
    assert.equal(warns.length, 2, 'relayed again within the episode: advice for isolated only, not relayed twice')
    s = base
    w.check(); w.check()
    s = { ...base, state: 'relayed', relays: [PEER], warnings: ['all-peers-relayed'] }
    w.check(); w.check()
    assert.equal(warns.length, 3, 'a new episode after the hub was public again')
  })
})
