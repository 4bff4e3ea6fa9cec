import { BlockList, isIPv4, isIPv6 } from 'node:net'
import { networkInterfaces } from 'node:os'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * Where an address can be reached from. A hub keeps, stores and dials a private (LAN) address
 * only when it lies in a subnet of one of its own interfaces: another village's 192.168.x is
 * somebody else's LAN, and dialling it only burns the dial's deadline before the relay is tried.
 */
export type AddressScope = 'loopback' | 'private' | 'public'

const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')

/** RFC 1918, carrier-grade NAT (RFC 6598), link-local, IPv6 unique-local and link-local. */
const PRIVATE = new BlockList()
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4')
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4')
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4')
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4')
PRIVATE.addSubnet('169.254.0.0', 16, 'ipv4')
PRIVATE.addSubnet('0.0.0.0', 8, 'ipv4')
PRIVATE.addSubnet('fc00::', 7, 'ipv6')
PRIVATE.addSubnet('fe80::', 10, 'ipv6')

const family = (ip: string): 'ipv4' | 'ipv6' | undefined => isIPv4(ip) ? 'ipv4' : isIPv6(ip) ? 'ipv6' : undefined

export function ipScope (ip: string): AddressScope {
  const f = family(ip)
  if (f === undefined) return 'public'
  if (LOOPBACK.check(ip, f)) return 'loopback'
  return PRIVATE.check(ip, f) ? 'private' : 'public'
}

/** The first IP of a multiaddr (for a relayed address: the relay's), or undefined (dns, memory). */
export function firstIp (ma: Multiaddr): string | undefined {
  const c = ma.getComponents()[0]
  return c !== undefined && (c.name === 'ip4' || c.name === 'ip6') ? c.value : undefined
}

/** Scope of an address by its first IP; names (dns4, dns6, dnsaddr) count as public. */
export function addrScope (ma: Multiaddr): AddressScope {
  const ip = firstIp(ma)
  return ip === undefined ? 'public' : ipScope(ip)
}

export const isRelayed = (ma: Multiaddr): boolean => ma.getComponents().some(c => c.name === 'p2p-circuit')

/** The relay's peer id in a relayed address (`…/p2p/<relay>/p2p-circuit/…`). */
export function relayOf (ma: Multiaddr): string | undefined {
  const cs = ma.getComponents()
  const i = cs.findIndex(c => c.name === 'p2p-circuit')
  return i > 0 && cs[i - 1].name === 'p2p' ? cs[i - 1].value : undefined
}

/** The subnets of this machine's interfaces, re-read at most every `refreshMs` (links come and go). */
export class LocalSubnets {
  private list = new BlockList()
  private readAt = 0

  constructor (private readonly refreshMs = 30_000, private readonly read: typeof networkInterfaces = networkInterfaces) {}

  contains (ip: string): boolean {
    const f = family(ip)
    if (f === undefined) return false
    if (Date.now() - this.readAt > this.refreshMs) this.refresh()
    return this.list.check(ip, f)
  }

  refresh (): void {
    const list = new BlockList()
    for (const addrs of Object.values(this.read())) {
      for (const a of addrs ?? []) {
        if (a.cidr === null) continue
        const [net, bits] = a.cidr.split('/')
        list.addSubnet(net.split('%')[0], Number(bits), a.family === 'IPv4' ? 'ipv4' : 'ipv6')
      }
    }
    this.list = list
    this.readAt = Date.now()
  }
}

/**
 * Can this machine reach `ma`? Public addresses and names: yes; loopback: yes (a testnet on one
 * host); private: only inside one of our own subnets. For a relayed address this judges the
 * relay's address, which is the one dialled.
 */
export function isReachable (ma: Multiaddr, subnets: LocalSubnets): boolean {
  const ip = firstIp(ma)
  if (ip === undefined) return true
  const scope = ipScope(ip)
  return scope !== 'private' || subnets.contains(ip)
}

/**
 * What we announce: loopback addresses only when we listen on loopback alone (a testnet on one
 * host); a peer elsewhere that dials our 127.0.0.1 reaches itself.
 */
export function announceFilter (listen: string[]): (addrs: Multiaddr[]) => Multiaddr[] {
  const loopbackOnly = listen.length > 0 && listen.every(a => /^\/(ip4\/127\.|ip6\/::1\/)/.test(a))
  return (addrs) => loopbackOnly ? addrs : addrs.filter(a => addrScope(a) !== 'loopback')
}
