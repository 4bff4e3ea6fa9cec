import type { ReachStatus } from '@ecandle/api'
import type { Logger } from 'pino'
import type { HubConfig } from './config.js'

/** What an operator can do about each state (also in docs/networking.md). */
export function reachAdvice (s: ReachStatus, config: Pick<HubConfig, 'listen' | 'reach'>): string | undefined {
  const port = config.listen.map(a => /\/tcp\/(\d+)(?!.*\/ws)/.exec(a)?.[1]).find(p => p !== undefined && p !== '0') ?? '4001'
  switch (s.state) {
    case 'relayed':
      return `this hub is reached only through relay ${s.relays.join(', ')}: it works, but every byte crosses that hub. ` +
        `To be reached directly, forward TCP port ${port} on your router to this hub and add its public address under "announce" ` +
        `(e.g. /ip4/<public ip>/tcp/${port})${config.reach.upnp ? '' : ', or allow UPnP on the router and set reach.upnp: true'}` +
        (s.nat === 'port-changing' ? '; hole punching cannot work here (the NAT changes ports: carrier-grade NAT or a strict router)' : '')
    case 'outbound-only':
      return 'this hub can dial out but nobody can dial in, and it holds no relay slot yet (no public hub with a relay reachable): ' +
        'add a public hub to the bootstrap list, or forward a port on the router'
    case 'isolated':
      return 'no peers: check the link, the bootstrap addresses (network file, "bootstrap" in config.json) and, on a LAN, that mDNS (UDP 5353) is not blocked. ' +
        'Device reports are still taken, stored and acknowledged; they replicate once a peer is back'
    default:
      return undefined
  }
}

/**
 * Logs how the hub is reached when that changes (settled for one check), and the advice for a
 * relayed, outbound-only or isolated hub once per episode, so a log shows it without repeating.
 */
export class ReachWatch {
  private timer?: NodeJS.Timeout
  private last?: string
  private pending?: string
  private readonly advised = new Set<string>()

  constructor (private readonly read: () => ReachStatus, private readonly log: Pick<Logger, 'info' | 'warn'>, private readonly config: Pick<HubConfig, 'listen' | 'reach'>, private readonly periodMs = 5000) {}

  start (): void {
    this.timer = setInterval(() => { this.check() }, this.periodMs)
    this.timer.unref()
  }

  stop (): void { clearInterval(this.timer) }

  check (): void {
    const s = this.read()
    const key = `${s.state} ${s.warnings.join(',')} ${s.relays.join(',')}`
    // Only a state seen twice in a row is reported: connections come and go within seconds.
    if (key !== this.pending) { this.pending = key; return }
    if (key === this.last) return
    this.last = key
    this.log.info({ reach: s.state, relays: s.relays, peers: s.peers, nat: s.nat, warnings: s.warnings, publicAddrs: s.publicAddrs }, `reachability: ${s.state}`)
    const advice = reachAdvice(s, this.config)
    if (advice === undefined) {
      this.advised.clear()
      return
    }
    if (!this.advised.has(s.state)) {
      this.advised.add(s.state)
      this.log.warn({ reach: s.state, relays: s.relays, warnings: s.warnings }, advice)
    }
  }
}
