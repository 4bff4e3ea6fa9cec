import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

/** Linux's default ephemeral range, used when /proc does not say. */
const DEFAULT_EPHEMERAL: [number, number] = [32768, 60999]
/** Lowest port we hand out: clear of the well-known and common service ports. */
const LOWEST = 20000

function ephemeralRange (): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    if (Number.isInteger(lo) && Number.isInteger(hi) && lo > 1024 && hi >= lo) return [lo, hi]
  } catch {}
  return DEFAULT_EPHEMERAL
}

async function canListen (port: number, host: string): Promise<boolean> {
  return await new Promise(resolve => {
    const srv = createServer()
    srv.once('error', () => { resolve(false) })
    srv.listen({ port, host, exclusive: true }, () => { srv.close(() => { resolve(true) }) })
  })
}

/**
 * A free TCP port on `host` for a listener that must get the same port again after a restart
 * (testnet hubs, whose ports are written in the network file; an embedded broker).
 *
 * It is picked below the kernel's ephemeral range: a port from `listen(0)` lies inside that range,
 * so once freed the kernel may hand it to any outgoing connection (an HTTP poll, an MQTT client) and
 * the restarted listener then fails with EADDRINUSE. Ports below the range are never auto-assigned.
 */
export async function freePort (host = '127.0.0.1'): Promise<number> {
  const [lo] = ephemeralRange()
  const top = Math.max(LOWEST + 1000, lo) // exclusive
  for (let i = 0; i < 200; i++) {
    const port = LOWEST + Math.floor(Math.random() * (top - LOWEST))
    if (await canListen(port, host)) return port
  }
  throw new Error(`no free TCP port on ${host} in ${LOWEST}..${top - 1} after 200 tries`)
}
