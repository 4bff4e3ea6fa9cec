import { stat, statfs } from 'node:fs/promises'
import { epochOf, epochVoteAtMs, limits, type EpochState, type Network } from '@ecandle/protocol'
import { SCHEMA_VERSION } from '@ecandle/store'
import type { HealthCheck, HealthLevel, HealthReport } from '@ecandle/api'
import type { Hub } from './hub.js'
import { loadNetwork } from './config.js'
import type { VoteGuard } from './agreement/vote-guard.js'

/**
 * The checks of `ecandle doctor` and GET /health: one line each, green/amber/red, with the reason
 * and what to do. Red means the hub cannot do its job (or leaks its key); amber, that it works
 * but something needs a look. The thresholds are here, in one place.
 */
// The report's shape is the API contract's (GET /health).
export type { HealthCheck, HealthLevel, HealthReport }

export const HEALTH_LIMITS = {
  /** |clock skew| up to this is green. */
  clockGreenMs: 2000,
  /** Up to this amber; beyond, red: at limits.maxClockSkewMs apart hubs ignore each other's entries. */
  clockAmberMs: limits.maxClockSkewMs / 2,
  /** Free space below either is red (LevelDB cannot compact, writes will fail). */
  diskRedBytes: 64 * 1024 * 1024,
  diskRedFraction: 0.02,
  /** Below either is amber. */
  diskAmberBytes: 512 * 1024 * 1024,
  diskAmberFraction: 0.10,
  /** An epoch is overdue this long after its vote may start (one epoch, at least a minute). */
  epochSlackMinS: 60
}

const RANK: Record<HealthLevel, number> = { green: 0, amber: 1, red: 2 }

export function worst (checks: HealthCheck[]): HealthLevel {
  return checks.reduce<HealthLevel>((w, c) => RANK[c.level] > RANK[w] ? c.level : w, 'green')
}

const ok = (check: string, message: string): HealthCheck => ({ check, level: 'green', message })
const warn = (check: string, message: string, fix: string): HealthCheck => ({ check, level: 'amber', message, fix })
const bad = (check: string, message: string, fix: string): HealthCheck => ({ check, level: 'red', message, fix })

const mib = (n: number): string => `${(n / (1024 * 1024)).toFixed(n < 10 * 1024 * 1024 ? 1 : 0)} MiB`
const hubsN = (n: number): string => n === 1 ? '1 other hub' : `${n} other hubs`
const secs = (ms: number): string => `${(Math.abs(ms) / 1000).toFixed(1)} s`

/** The hub key must be readable by its owner only. */
export async function keyCheck (path: string): Promise<HealthCheck> {
  let mode: number
  try {
    mode = (await stat(path)).mode & 0o777
  } catch {
    return bad('key', `no hub key at ${path}`, 'restore hub.key from your backup, or `ecandle init` a new hub (a new key is a new hub to the network)')
  }
  if (mode !== 0o600) {
    return bad('key', `${path} has mode ${mode.toString(8).padStart(4, '0')}: others on this machine can read the hub's signing key (the daemon refuses to start with it)`, `chmod 600 ${path}`)
  }
  return ok('key', `${path}: mode 0600`)
}

/** The vote guard (agreement/vote-guard.ts): red when it cannot be read, for the hub then votes in no epoch. */
export function voteGuardCheck (g: VoteGuard): HealthCheck {
  if (g.problem !== undefined) {
    return bad('vote-guard', `${g.problem}: this hub signs no consensus message (abstains in every epoch) until it is fixed`,
      `put back vote-guard.json from the backup hub.key came from; if there is none, stop the hub until the epoch in progress is decided without it, then remove ${g.path} and start it`)
  }
  if (g.epoch < 0) return ok('vote-guard', `${g.path}: nothing signed yet`)
  return ok('vote-guard', `${g.path}: last signed in epoch ${g.epoch}, round ${g.round}`)
}

/** Free space where the data dir (LevelDB) lives. */
export async function diskCheck (dir: string): Promise<HealthCheck> {
  let free: number
  let total: number
  try {
    const s = await statfs(dir)
    free = s.bavail * s.bsize
    total = s.blocks * s.bsize
  } catch (err) {
    return bad('disk', `cannot read the free space of ${dir}: ${String((err as NodeJS.ErrnoException).code ?? err)}`, 'check that the data dir exists and is mounted')
  }
  const fraction = total > 0 ? free / total : 0
  const what = `${mib(free)} free of ${mib(total)} (${(fraction * 100).toFixed(0)} %) at ${dir}`
  const fix = 'free space or move the data dir to a bigger disk (stop the hub, copy the dir, point --data-dir at it); `ecandle` never deletes data'
  if (free < HEALTH_LIMITS.diskRedBytes || fraction < HEALTH_LIMITS.diskRedFraction) return bad('disk', `${what}: writes will soon fail`, fix)
  if (free < HEALTH_LIMITS.diskAmberBytes || fraction < HEALTH_LIMITS.diskAmberFraction) return warn('disk', `${what}: running low`, fix)
  return ok('disk', what)
}

/** The network file must load and be the network this hub (or its database) belongs to. */
export async function networkCheck (path: string, expectedId?: string): Promise<{ check: HealthCheck, net?: Network }> {
  let net: Network
  try {
    net = await loadNetwork(path)
  } catch (err) {
    return { check: bad('network', String((err as Error).message), `restore the network file of your network at ${path} (every hub has the same one)`) }
  }
  if (expectedId !== undefined && net.id !== expectedId) {
    return { check: bad('network', `${path} is network ${net.id}, but this hub runs network ${expectedId}`, 'put back the network file the hub was started with, or restart the hub if the network was changed on purpose'), net }
  }
  return { check: ok('network', `${net.def.name}, id ${net.id}, ${net.hubs.size} hubs, ${net.devices.size} devices`), net }
}

/** `state`: the network state the hub is at (governance changes validators and devices); default the network file's. */
export function roleCheck (net: Network, peerId: string, state?: EpochState): HealthCheck {
  if (state === undefined ? net.hubs.has(peerId) : state.validators.byId.has(peerId)) return ok('role', 'validator: keeps its own log and votes on epochs')
  if (state?.next.byId.has(peerId) === true) return ok('role', `validator from epoch ${state.epoch + 1} (added by governance): then keeps its own log and votes`)
  return warn('role', `follower: ${peerId} is not a validator of this network, so it keeps no log of its own and takes no devices`, `if this hub should be a validator, its operator proposes it: \`ecandle gov propose hub-add\` and more than 2/3 of the validators approve (docs/governance.md); a light peer that only follows can ignore this`)
}

export function clockCheck (net: Network, peerId: string, est: { skewMs: number, hubs: number } | undefined): HealthCheck {
  const others = net.hubs.size - (net.hubs.has(peerId) ? 1 : 0)
  const fix = 'keep the clock synced: `timedatectl set-ntp true` (systemd-timesyncd or chrony); a Raspberry Pi has no battery clock and needs NTP after every boot'
  if (others === 0) return ok('clock', 'no other hub to compare with')
  if (est === undefined) return warn('clock', 'not compared yet: no entry from another hub in the last 10 minutes', 'wait for the other hubs\' devices to report; see the peers check')
  const dir = est.skewMs >= 0 ? 'ahead of' : 'behind'
  const msg = `${secs(est.skewMs)} ${dir} the other hubs (median of ${est.hubs})`
  const abs = Math.abs(est.skewMs)
  if (abs <= HEALTH_LIMITS.clockGreenMs) return ok('clock', `within ${secs(est.skewMs)} of the other hubs (median of ${est.hubs})`)
  if (abs <= HEALTH_LIMITS.clockAmberMs) return warn('clock', msg, fix)
  return bad('clock', `${msg}: hubs ignore entries more than ${secs(limits.maxClockSkewMs)} in their future, so ${est.skewMs >= 0 ? 'the others ignore this hub\'s entries' : 'this hub ignores the others\' entries'}`, fix)
}

export function peersCheck (net: Network, peerId: string, conns: Array<{ peer: string, addr: string }>, state?: EpochState): HealthCheck {
  const others = (state?.validators.ids ?? net.validatorIds).filter(v => v !== peerId)
  const byPeer = new Map<string, string[]>()
  for (const c of conns) byPeer.set(c.peer, [...(byPeer.get(c.peer) ?? []), c.addr])
  const reached = others.filter(v => byPeer.has(v))
  const how = new Map<string, number>()
  for (const v of reached) {
    const addrs = byPeer.get(v) ?? []
    const kind = addrs.some(a => !a.includes('/p2p-circuit')) ? `direct ${addrs.some(a => a.includes('/ws')) ? 'websocket' : 'tcp'}` : 'relayed'
    how.set(kind, (how.get(kind) ?? 0) + 1)
  }
  const howText = [...how].map(([k, n]) => `${k}: ${n}`).join(', ')
  const fix = 'check the internet link and that the libp2p port (4001 by default) is reachable or forwarded; the network file\'s bootstrap addresses must be current; see docs/networking.md'
  if (others.length === 0) return ok('peers', `${byPeer.size} peers; no other hub in this network`)
  if (byPeer.size === 0) return bad('peers', `no peers: connected to none of the ${hubsN(others.length)}, so nothing replicates and no epoch can be decided here`, fix)
  const missing = others.filter(v => !byPeer.has(v))
  if (missing.length > 0) {
    return warn('peers', `connected to ${reached.length} of ${hubsN(others.length)}${howText === '' ? '' : ` (${howText})`}; not to ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` and ${missing.length - 3} more` : ''}`, `${fix}; a missing hub may simply be down`)
  }
  return ok('peers', `connected to ${others.length === 1 ? 'the' : 'all'} ${hubsN(others.length)} (${howText}); ${byPeer.size} peer${byPeer.size === 1 ? '' : 's'} in all`)
}

export function devicesCheck (net: Network, peerId: string, rows: Array<{ device: string, lastReportAt?: number }>, o: { now: number, startedAt: number, silentS: number, linkErrors?: string[], state?: EpochState }): HealthCheck {
  const state = o.state
  if (state === undefined ? !net.hubs.has(peerId) : !state.validators.byId.has(peerId)) return ok('devices', 'a follower takes no devices')
  // A broker that refuses the hub (credentials, TLS) silences every device behind it: say that first.
  if ((o.linkErrors ?? []).length > 0) {
    return warn('devices', `a device link cannot connect: ${(o.linkErrors ?? []).join('; ')}`, 'check devices.mqtt in config.json: url (mqtts:// when the broker wants TLS), username, passwordFile and caFile, and the broker\'s own log')
  }
  const mine = state === undefined
    ? [...net.devices].filter(([, d]) => d.info.hub === peerId).map(([id]) => id)
    : [...state.registry.devices.values()].filter(d => d.hub === peerId && d.retired === null).map(d => d.id)
  if (mine.length === 0) return ok('devices', 'no devices registered to this hub')
  const last = new Map(rows.map(r => [r.device, r.lastReportAt]))
  const silentMs = o.silentS * 1000
  const silent: string[] = []
  for (const id of mine) {
    const at = last.get(id)
    if (at !== undefined ? o.now - at > silentMs : o.now - o.startedAt > silentMs) silent.push(at === undefined ? `${id} (not heard since the hub started)` : `${id} (last report ${Math.round((o.now - at) / 1000)} s ago)`)
  }
  if (silent.length === 0) return ok('devices', `all ${mine.length} devices reported in the last ${o.silentS} s`)
  return warn('devices', `${silent.length} of ${mine.length} devices silent for more than ${o.silentS} s: ${silent.slice(0, 3).join(', ')}${silent.length > 3 ? ` and ${silent.length - 3} more` : ''}`,
    'check the device\'s power and battery, its cable or radio, and its MQTT credentials; `ecandle devices` shows each link and the last refusal')
}

export function epochCheck (net: Network, lastDecided: number | undefined, nowMs: number): HealthCheck {
  const lenMs = net.def.epochLengthS * 1000
  const slackMs = Math.max(lenMs, HEALTH_LIMITS.epochSlackMinS * 1000)
  // The newest epoch whose vote should be over by now.
  let due = epochOf(net, nowMs) - 1
  while (due >= 0 && epochVoteAtMs(net, due) + slackMs > nowMs) due--
  if (due < 0) return ok('epoch', lastDecided === undefined ? 'no epoch due yet' : `last decided epoch ${lastDecided}`)
  if (lastDecided === undefined || lastDecided < due) {
    return warn('epoch', `${lastDecided === undefined ? 'no epoch decided yet' : `last decided epoch ${lastDecided}`}, but epoch ${due} should be decided by now`,
      'deciding needs more than 2/3 of the validators online and connected (see the peers and clock checks); `ecandle epochs` lists what was decided')
  }
  return ok('epoch', `last decided epoch ${lastDecided}`)
}

/** `lastConnectError` of every device link that has one (the MQTT link while a broker refuses the hub). */
function linkErrors (hub: Hub): string[] {
  const stats = (hub.bridge as { stats?: () => Record<string, unknown> } | undefined)?.stats?.() ?? {}
  return Object.entries(stats).flatMap(([link, st]) => {
    const e = (st as { lastConnectError?: unknown } | undefined)?.lastConnectError
    return typeof e === 'string' ? [`${link}: ${e}`] : []
  })
}

/** The database of a running hub: red while it takes no writes (full disk: no report is acknowledged). */
function storageCheck (hub: Hub): HealthCheck {
  const w = hub.store.writable
  if (!w.writable) {
    return bad('database', `cannot be written (${w.reason ?? 'unknown'}${w.freeBytes === undefined ? '' : `, ${w.freeBytes} bytes free`}): no report is acknowledged, reads go on`,
      'free space on the data disk: the hub resumes by itself')
  }
  return ok('database', `LevelDB schema v${SCHEMA_VERSION}, ${hub.store.reportCount} reports, network ${hub.net.id}`)
}

/** Every check of a running hub (GET /health). */
export async function hubHealth (hub: Hub): Promise<HealthReport> {
  const c = hub.config
  const now = hub.now()
  const { check: network } = await networkCheck(c.networkPath, hub.net.id)
  const conns = hub.node.getConnections().filter(x => x.status === 'open').map(x => ({ peer: x.remotePeer.toString(), addr: x.remoteAddr.toString() }))
  const checks: HealthCheck[] = [
    await keyCheck(c.keyPath),
    ...(hub.voteGuard === undefined ? [] : [voteGuardCheck(hub.voteGuard)]),
    network,
    storageCheck(hub),
    roleCheck(hub.net, hub.peerId, hub.chain.latest),
    peersCheck(hub.net, hub.peerId, conns, hub.chain.latest),
    clockCheck(hub.net, hub.peerId, hub.clockSkew.estimate()),
    devicesCheck(hub.net, hub.peerId, hub.bridge?.devices() ?? [], { now, startedAt: hub.startedAt + c.clockOffsetMs, silentS: c.health.deviceSilentS, linkErrors: linkErrors(hub), state: hub.chain.latest }),
    await diskCheck(c.dataDir),
    epochCheck(hub.net, hub.agreement.lastDecided?.epoch, now)
  ]
  return { status: worst(checks), peerId: hub.peerId, network: hub.net.id, checks }
}
