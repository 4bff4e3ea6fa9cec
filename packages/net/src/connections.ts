import type { Connection } from '@libp2p/interface'
import { isRelayed } from './addrs.js'

/** A relayed connection is "limited" in libp2p (the relay caps its duration and bytes). */
export const isLimited = (c: Connection): boolean => c.limits != null || isRelayed(c.remoteAddr)

/**
 * The connection to use among a peer's: open, unlimited before limited (a hole punch or a LAN
 * link before the relay), then the longest-standing (a dial-back that AutoNAT is about to close
 * is never preferred to the connection it duplicates).
 */
export function bestConnection (conns: Connection[], allowLimited = true): Connection | undefined {
  const usable = conns.filter(c => c.status === 'open' && (allowLimited || !isLimited(c)))
  usable.sort((x, y) => Number(isLimited(x)) - Number(isLimited(y)) || x.timeline.open - y.timeline.open)
  return usable[0]
}
