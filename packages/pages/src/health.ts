import type { DeviceLinkStatus, HubStatus, PeerInfo } from '@ecandle/client'
import { limits, type NetworkDefinition } from '@ecandle/protocol'

/**
 * The dashboard's health: one colour for the hub, the worst of its checks, each with its reason.
 * Green only when every check is green: a degraded hub is never shown as fine. Pure: everything
 * comes in as arguments (what the API said, and the time now), so the same inputs give the same
 * verdict.
 */
export type Level = 'green' | 'amber' | 'red'

export interface Check { check: string, level: Level, message: string, fix?: string }

const RANK: Record<Level, number> = { green: 0, amber: 1, red: 2 }
export const worst = (checks: readonly Check[]): Level => checks.reduce<Level>((w, c) => RANK[c.level] > RANK[w] ? c.level : w, 'green')

export interface HealthInput {
  nowMs: number
  /** Whether the last API call answered, and whether the live event stream is open. */
  api: boolean
  live: boolean
  status?: HubStatus
  peers?: PeerInfo[]
  devices?: DeviceRow[]
  net?: NetworkDefinition
  /** Newest entry time (unix ms, its hub's clock) of each hub's log, as this hub holds it. */
  newestEntry: Map<string, number>
  /** Estimated clock offset of this hub vs the others (ms, + = ahead), from entries received live. */
  clock?: { skewMs: number, hubs: number }
  silentAfterS: number
  hubName: (peerId: string) => string
}

/** A device of this hub: its link status (if the link knows it) and when it was last heard of. */
export interface DeviceRow {
  device: string
  link?: DeviceLinkStatus
  lastSeenMs?: number
}

export const secs = (ms: number): string => {
  const s = Math.abs(ms) / 1000
  if (s < 10) return `${s.toFixed(1)} s`
  if (s < 120) return `${Math.round(s)} s`
  if (s < 7200) return `${Math.round(s / 60)} min`
  return `${(s / 3600).toFixed(1)} h`
}

export function silentFor (d: DeviceRow, nowMs: number, silentAfterS: number): number | undefined {
  if (d.lastSeenMs === undefined) return Infinity
  const quiet = nowMs - d.lastSeenMs
  return quiet > silentAfterS * 1000 ? quiet : undefined
}

/** When the epoch after `last` is due: its end plus the grace period (unix ms). */
export function nextEpochDueMs (net: NetworkDefinition, last: number | null): { epoch: number, dueMs: number } {
  const epoch = last === null ? 0 : last + 1
  return { epoch, dueMs: (net.genesisTime + (epoch + 1) * net.epochLengthS + net.gracePeriodS) * 1000 }
}

export function healthChecks (x: HealthInput): Check[] {
  const out: Check[] = []
  if (!x.api) {
    out.push({ check: 'online', level: 'red', message: 'the hub\'s API does not answer', fix: 'is the daemon running? `systemctl status ecandle` or `ecandle status`' })
    return out
  }
  out.push(x.live
    ? { check: 'online', level: 'green', message: 'API answering, live updates connected' }
    : { check: 'online', level: 'amber', message: 'API answering, but the live event stream is down (reconnecting): figures may be stale' })
  const s = x.status
  const net = x.net
  if (s === undefined || net === undefined) return out
  const self = s.peerId
  const validators = net.validators.map(v => v.peerId)
  const others = validators.filter(v => v !== self)
  const connected = new Set((x.peers ?? []).map(p => p.peerId))
  const missing = others.filter(v => !connected.has(v))
  if (others.length === 0) out.push({ check: 'peers', level: 'green', message: 'no other hub in this network' })
  else if (missing.length === others.length) out.push({ check: 'peers', level: 'red', message: `connected to none of the ${others.length} other hubs (${s.peers} peers in all)`, fix: 'check the internet link and the listen/bootstrap addresses; `ecandle status` on the hub' })
  else if (missing.length > 0) out.push({ check: 'peers', level: 'amber', message: `connected to ${others.length - missing.length} of ${others.length} other hubs; not to ${missing.map(x.hubName).join(', ')}` })
  else out.push({ check: 'peers', level: 'green', message: `connected to all ${others.length} other hubs (${s.peers} peers in all)` })

  out.push(reachCheck(s, x.peers ?? []))

  // Sync: the newest entry of every hub's log that this hub holds. A hub whose log stopped moving
  // is down or cut off from us; either way this hub's view of the network is behind.
  const staleMs = Math.max(60, 3 * net.epochLengthS) * 1000
  const behind = validators.filter(v => s.heads[v] !== undefined && x.newestEntry.has(v) && x.nowMs - (x.newestEntry.get(v) ?? 0) > staleMs)
  const never = validators.filter(v => s.heads[v] === undefined)
  const lagMs = Math.max(0, ...validators.filter(v => x.newestEntry.has(v)).map(v => x.nowMs - (x.newestEntry.get(v) ?? x.nowMs)))
  if (behind.length > 0) out.push({ check: 'sync', level: 'amber', message: `no new entry from ${behind.map(v => `${x.hubName(v)} for ${secs(x.nowMs - (x.newestEntry.get(v) ?? 0))}`).join(', ')}: down, or not reaching us` })
  else if (never.length > 0 && never.length === validators.length) out.push({ check: 'sync', level: 'amber', message: 'no hub has logged an entry yet' })
  else out.push({ check: 'sync', level: 'green', message: `newest entries: within ${secs(lagMs)} for every hub${never.length > 0 ? ` (${never.map(x.hubName).join(', ')}: no entry yet)` : ''}` })

  if (x.clock === undefined) out.push({ check: 'clock', level: others.length === 0 ? 'green' : 'amber', message: others.length === 0 ? 'no other hub to compare with' : 'not compared yet: waiting for entries of other hubs' })
  else {
    const abs = Math.abs(x.clock.skewMs)
    const dir = x.clock.skewMs >= 0 ? 'ahead of' : 'behind'
    const msg = `${secs(x.clock.skewMs)} ${dir} the other hubs (from ${x.clock.hubs} hub${x.clock.hubs === 1 ? '' : 's'}' entries)`
    const fix = 'keep the clock synced with NTP (`timedatectl set-ntp true`); a Raspberry Pi has no battery clock'
    out.push(abs <= 2000 ? { check: 'clock', level: 'green', message: msg } : abs <= limits.maxClockSkewMs / 2 ? { check: 'clock', level: 'amber', message: msg, fix } : { check: 'clock', level: 'red', message: `${msg}: other hubs will ignore this hub's entries`, fix })
  }

  const { epoch: next, dueMs } = nextEpochDueMs(net, s.lastEpoch)
  const lateMs = x.nowMs - dueMs
  const last = s.lastEpoch === null ? 'no epoch decided yet' : `epoch ${s.lastEpoch} decided`
  const slackMs = Math.max(60, net.epochLengthS) * 1000
  if (lateMs > slackMs) out.push({ check: 'epoch', level: 'red', message: `${last}; epoch ${next} is overdue by ${secs(lateMs)}: the hubs are not agreeing`, fix: 'a decision needs more than 2/3 of the validators connected: see peers' })
  else out.push({ check: 'epoch', level: 'green', message: `${last}; epoch ${next} due ${lateMs > 0 ? `${secs(lateMs)} ago (voting)` : `in ${secs(-lateMs)}`}` })

  const rows = x.devices ?? []
  const silent = rows.filter(d => silentFor(d, x.nowMs, x.silentAfterS) !== undefined)
  if (rows.length === 0) out.push({ check: 'devices', level: 'green', message: s.validator ? 'no device registered to this hub' : 'a follower hub has no devices' })
  else if (silent.length > 0) out.push({ check: 'devices', level: 'amber', message: `${silent.length} of ${rows.length} devices silent for more than ${secs(x.silentAfterS * 1000)}: ${silent.map(d => d.device).join(', ')}`, fix: 'check the device: battery, cable or radio link' })
  else out.push({ check: 'devices', level: 'green', message: `all ${rows.length} devices reported within ${secs(x.silentAfterS * 1000)}` })

  if (s.evidence > 0) out.push({ check: 'evidence', level: 'amber', message: `${s.evidence} equivocation evidence stored: a hub or device signed two conflicting objects (see Evidence)` })
  return out
}

function reachCheck (s: HubStatus, peers: PeerInfo[]): Check {
  // `reach` is in GET /status once the hub reports how it is reached (relay, hole punching…).
  const reach = (s as HubStatus & { reach?: { state?: string, warnings?: string[] } }).reach
  if (reach?.state !== undefined) {
    const state = reach.state
    const level: Level = state === 'isolated' ? 'red' : state === 'relayed' || state === 'outbound-only' ? 'amber' : 'green'
    const words: Record<string, string> = {
      public: 'reachable at a public address', 'hole-punched': 'reached directly by hole punching', relayed: 'reachable only through a relay (slower, limited)',
      lan: 'peers on the local network only', 'outbound-only': 'connects out, but nobody can dial in', isolated: 'no peers at all'
    }
    return { check: 'reach', level, message: `${words[state] ?? state}${(reach.warnings ?? []).length > 0 ? ` (${(reach.warnings ?? []).join(', ')})` : ''}` }
  }
  const relayed = peers.filter(p => p.addrs.every(a => a.includes('/p2p-circuit')))
  const ws = s.addrs.some(a => /\/wss?\//.test(a))
  if (peers.length === 0) return { check: 'reach', level: 'red', message: 'no connection to any peer' }
  if (relayed.length === peers.length) return { check: 'reach', level: 'amber', message: 'every connection goes through a relay' }
  return { check: 'reach', level: 'green', message: `direct connections (${peers.filter(p => p.direction === 'inbound').length} in, ${peers.filter(p => p.direction === 'outbound').length} out)${ws ? '; browsers can reach it over WebSockets' : ''}` }
}
