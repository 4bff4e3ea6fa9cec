import assert from 'node:assert/strict'
import type { NetworkInterfaceInfo } from 'node:os'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { addrScope, announceFilter, createHubNode, ipScope, isReachable, isRelayed, LocalSubnets, relayOf, type HubNode } from '../src/index.js'

const PEER = '12D3KooWKcs31iJqYLZbNpqPHri8vWeLmNhRDpVuR7gJQf6v95Xo'
const RELAY = '12D3KooWAaYVakMyznsMrUbM1TPKUnduj2tCfQiM6zujqQmepeqr'
const ma = (s: string): ReturnType<typeof multiaddr> => multiaddr(s)

/** A machine with these interfaces (what `os.networkInterfaces()` returns). */
function machine (cidrs: string[]): () => NodeJS.Dict<NetworkInterfaceInfo[]> {
  return () => ({
    eth0: cidrs.map(cidr => ({ address: cidr.split('/')[0], cidr, family: cidr.includes(':') ? 'IPv6' : 'IPv4', netmask: '', mac: '', internal: false, scopeid: 0 }) as NetworkInterfaceInfo)
  })
}

describe('address rules (addrs.ts): which addresses are stored, announced and dialled', () => {
  it('scopes IPs: loopback, private (RFC 1918, CGNAT, link-local, ULA), public', () => {
    for (const ip of ['127.0.0.1', '127.255.0.9', '::1']) assert.equal(ipScope(ip), 'loopback', ip)
    for (const ip of ['10.0.0.1', '172.16.0.1', '172.31.255.254', '192.168.1.2', '100.64.0.1', '100.127.255.254', '169.254.3.4', '0.1.2.3', 'fd00::1', 'fc00::1', 'fe80::1']) assert.equal(ipScope(ip), 'private', ip)
    for (const ip of ['11.0.1.2', '8.8.8.8', '172.15.255.255', '172.32.0.1', '100.63.255.255', '100.128.0.1', '192.169.0.1', '2a01:4f8::1']) assert.equal(ipScope(ip), 'public', ip)
  })

  it('scopes an address by its first IP (for a relayed one, the relay\'s); names are public', () => {
    assert.equal(addrScope(ma('/ip4/192.168.1.2/tcp/4001')), 'private')
    assert.equal(addrScope(ma(`/ip4/11.0.1.2/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${PEER}`)), 'public')
    assert.equal(addrScope(ma('/dns4/hub.example.org/tcp/443/wss')), 'public')
    assert.equal(addrScope(ma('/ip6/::1/tcp/4001')), 'loopback')
  })

  it('finds the relay of a relayed address', () => {
    const relayed = ma(`/ip4/11.0.1.2/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${PEER}`)
    assert.equal(isRelayed(relayed), true)
    assert.equal(relayOf(relayed), RELAY)
    assert.equal(isRelayed(ma(`/ip4/11.0.1.2/tcp/4001/p2p/${PEER}`)), false)
    assert.equal(relayOf(ma('/p2p-circuit')), undefined)
  })

  it('reaches public addresses, names, loopback, and private addresses only inside its own subnets', () => {
    const subnets = new LocalSubnets(60_000, machine(['192.168.1.2/24', 'fd12::2/64']))
    assert.equal(isReachable(ma('/ip4/192.168.1.77/tcp/4001'), subnets), true, 'same LAN')
    assert.equal(isReachable(ma('/ip6/fd12::9/tcp/4001'), subnets), true, 'same IPv6 ULA subnet')
    assert.equal(isReachable(ma('/ip4/192.168.2.2/tcp/4001'), subnets), false, 'another village\'s LAN')
    assert.equal(isReachable(ma('/ip4/10.1.2.3/tcp/4001'), subnets), false)
    assert.equal(isReachable(ma('/ip4/100.64.0.9/tcp/4001'), subnets), false, 'a carrier-grade NAT address elsewhere')
    assert.equal(isReachable(ma('/ip4/11.0.3.2/tcp/4001'), subnets), true, 'public')
    assert.equal(isReachable(ma('/ip4/127.0.0.1/tcp/4001'), subnets), true, 'loopback (a testnet on one host)')
    assert.equal(isReachable(ma('/dns4/hub.example.org/tcp/4001'), subnets), true)
    assert.equal(isReachable(ma(`/ip4/11.0.1.2/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${PEER}`), subnets), true, 'through a public relay')
    assert.equal(isReachable(ma(`/ip4/192.168.9.9/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${PEER}`), subnets), false, 'through a relay on somebody else\'s LAN')
  })

  it('re-reads the interfaces once the refresh period has passed (links come and go)', async () => {
    let cidrs = ['192.168.1.2/24']
    const subnets = new LocalSubnets(30, () => machine(cidrs)())
    assert.equal(subnets.contains('192.168.5.5'), false)
    cidrs = ['192.168.5.2/24']
    assert.equal(subnets.contains('192.168.5.5'), false, 'within the period: the old view')
    await new Promise(resolve => setTimeout(resolve, 40))
    assert.equal(subnets.contains('192.168.5.5'), true)
    assert.equal(subnets.contains('192.168.1.5'), false)
  })

  it('announces loopback addresses only when listening on loopback alone', () => {
    const addrs = ['/ip4/127.0.0.1/tcp/4001', '/ip4/192.168.1.2/tcp/4001', '/ip4/11.0.2.2/tcp/4001', '/ip6/::1/tcp/4001'].map(ma)
    const shown = (listen: string[]): string[] => announceFilter(listen)(addrs).map(String)
    assert.deepEqual(shown(['/ip4/0.0.0.0/tcp/4001']), ['/ip4/192.168.1.2/tcp/4001', '/ip4/11.0.2.2/tcp/4001'])
    assert.deepEqual(shown(['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4002/ws']), addrs.map(String), 'a testnet on one host')
    assert.deepEqual(shown(['/ip4/127.0.0.1/tcp/4001', '/ip4/0.0.0.0/tcp/4002']), ['/ip4/192.168.1.2/tcp/4001', '/ip4/11.0.2.2/tcp/4001'])
  })

  // Nothing here is dialled (the peer store and the dial check only); the public addresses are documentation ones all the same.
  describe('in a hub node', () => {
    let node: HubNode
    // A private address in none of this machine's subnets (whatever the machine has).
    const here = new LocalSubnets()
    const elsewhere = ['192.168.253.7', '10.254.253.7', '172.31.253.7'].find(ip => !here.contains(ip))!
    before(async () => {
      node = await createHubNode({ seed: new Uint8Array(32).fill(21), networkId: 'test', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], reach: { mdns: false, holePunch: false } })
      await node.start()
    })
    after(async () => { await node?.stop() })

    it('keeps no private address of another network in its peer store', async () => {
      const peer = peerIdFromString(PEER)
      await node.peerStore.merge(peer, { multiaddrs: [ma(`/ip4/${elsewhere}/tcp/4001`), ma('/ip4/203.0.113.9/tcp/4001'), ma(`/ip4/198.51.100.2/tcp/4001/p2p/${RELAY}/p2p-circuit`)] })
      const kept = (await node.peerStore.get(peer)).addresses.map(a => a.multiaddr.toString()).sort()
      assert.deepEqual(kept, ['/ip4/198.51.100.2/tcp/4001/p2p/' + RELAY + '/p2p-circuit', '/ip4/203.0.113.9/tcp/4001'])
    })

    it('refuses to dial a private address of another network, not a public one', async () => {
      assert.equal(await node.isDialable(ma(`/ip4/${elsewhere}/tcp/4001/p2p/${PEER}`)), false)
      assert.equal(await node.isDialable(ma(`/ip4/203.0.113.9/tcp/4001/p2p/${PEER}`)), true)
    })

    it('announces its loopback address only because it listens on loopback alone', () => {
      assert.ok(node.getMultiaddrs().some(a => a.toString().startsWith('/ip4/127.0.0.1/tcp/')))
    })
  })
})
