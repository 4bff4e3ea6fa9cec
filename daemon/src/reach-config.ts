import { multiaddr, relayDefaults, type RelayOptions } from '@ecandle/net'
import { CliError } from './errors.js'

/**
 * The `reach` section of config.json: how the hub is reached (docs/networking.md).
 *
 * ```json
 * "reach": { "mdns": true, "upnp": false, "holePunch": true,
 *            "relay": { "server": "auto", "reservations": 2, "maxReservations": 64, "durationLimitS": 3600, "dataLimitMiB": 64 } }
 * ```
 */
export interface ReachConfigFile {
  mdns?: boolean
  upnp?: boolean
  holePunch?: boolean | { port?: number }
  relay?: { server?: string, reservations?: number, maxReservations?: number, durationLimitS?: number, dataLimitMiB?: number }
}

export interface ReachConfig {
  mdns: boolean
  upnp: boolean
  /** Local port of dials to public addresses (the hole-punch port); undefined: no hole punching. */
  holePunchPort?: number
  relay: Required<RelayOptions>
}

const int = (v: unknown, what: string, min: number, max: number): number => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new CliError(`config: reach.${what} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`)
  return v
}
const bool = (v: unknown, what: string, dflt: boolean): boolean => {
  if (v === undefined) return dflt
  if (typeof v !== 'boolean') throw new CliError(`config: reach.${what} must be true or false, got ${JSON.stringify(v)}`)
  return v
}
const only = (o: object, what: string, keys: string[]): void => {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new CliError(`config: unknown field "${what}.${k}" (known: ${keys.join(', ')})`)
}

/** The first TCP port we listen on, if fixed. */
function tcpListenPort (listen: string[]): number | undefined {
  for (const a of listen) {
    const o = multiaddr(a).toOptions()
    if (o.transport === 'tcp' && !a.includes('/ws') && o.port > 0) return o.port
  }
  return undefined
}

/**
 * Defaults: mDNS on unless the hub listens on loopback only (a testnet on one host must not
 * multicast on the machine's LAN); UPnP off (it opens a port on the router: the operator decides);
 * hole punching from listen port + 1; relay server while publicly reachable.
 */
export function parseReachConfig (v: unknown, listen: string[]): ReachConfig {
  if (v === undefined || v === null) v = {}
  if (typeof v !== 'object' || Array.isArray(v)) throw new CliError('config: reach must be an object')
  const r = v as ReachConfigFile
  only(r, 'reach', ['mdns', 'upnp', 'holePunch', 'relay'])
  const onLan = listen.some(a => { const h = multiaddr(a).toOptions().host; return !h.startsWith('127.') && h !== '::1' })
  let holePunchPort: number | undefined
  if (r.holePunch === undefined || r.holePunch === true) {
    const p = tcpListenPort(listen)
    holePunchPort = p === undefined || p >= 65535 ? undefined : p + 1
  } else if (typeof r.holePunch === 'object' && r.holePunch !== null) {
    only(r.holePunch, 'reach.holePunch', ['port'])
    holePunchPort = int(r.holePunch.port, 'holePunch.port', 1, 65535)
  } else if (r.holePunch !== false) {
    throw new CliError(`config: reach.holePunch must be true, false or { "port": N }, got ${JSON.stringify(r.holePunch)}`)
  }
  const relayIn = r.relay ?? {}
  if (typeof relayIn !== 'object' || Array.isArray(relayIn)) throw new CliError('config: reach.relay must be an object')
  only(relayIn, 'reach.relay', ['server', 'reservations', 'maxReservations', 'durationLimitS', 'dataLimitMiB'])
  const server = relayIn.server ?? relayDefaults.server
  if (server !== 'auto' && server !== 'on' && server !== 'off') throw new CliError(`config: reach.relay.server must be "auto", "on" or "off", got ${JSON.stringify(server)}`)
  return {
    mdns: bool(r.mdns, 'mdns', onLan),
    upnp: bool(r.upnp, 'upnp', false),
    holePunchPort,
    relay: {
      server,
      reservations: int(relayIn.reservations ?? relayDefaults.reservations, 'relay.reservations', 0, 8),
      maxReservations: int(relayIn.maxReservations ?? relayDefaults.maxReservations, 'relay.maxReservations', 1, 1024),
      durationLimitS: int(relayIn.durationLimitS ?? relayDefaults.durationLimitS, 'relay.durationLimitS', 60, 86_400),
      dataLimitBytes: int(relayIn.dataLimitMiB ?? relayDefaults.dataLimitBytes / (1024 * 1024), 'relay.dataLimitMiB', 1, 4096) * 1024 * 1024
    }
  }
}
