import { readFile } from 'node:fs/promises'
import { multiaddr } from '@ecandle/net'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { parseNetwork, ProtocolError, type Network } from '@ecandle/protocol'
import { CliError } from './errors.js'
import { parseDevicesConfig, type DevicesConfig } from './devices.js'
import { PROFILE_NAMES, profileByName, type Profile } from './profile.js'
import { VOTE_GUARD_FILE } from './agreement/vote-guard.js'
import { parseReachConfig, type ReachConfig, type ReachConfigFile } from './reach-config.js'

/**
 * Hub configuration: `<data-dir>/config.json`, then environment (ECANDLE_*), then flags.
 * Paths in the file are relative to the data dir.
 */
export interface HubConfig {
  dataDir: string
  networkPath: string
  dbPath: string
  keyPath: string
  /** What the hub key signed in consensus (agreement/vote-guard.ts), beside hub.key and not in db/. */
  voteGuardPath: string
  tokenPath: string
  listen: string[]
  /** Addresses announced besides the listen ones (a port forward, a TLS proxy). */
  announce: string[]
  /** Peers dialled besides the network file's bootstrap list. */
  bootstrap: string[]
  /** Relay, hole punching, UPnP, mDNS (see reach-config.ts and docs/networking.md). */
  reach: ReachConfig
  apiHost: string
  apiPort: number
  entryIntervalMs: number
  syncIntervalMs: number
  emulator?: { keysPath: string, reportIntervalS: number }
  /** Serial ports and MQTT the hub's devices talk on (see devices.ts and docs/device-protocol.md). */
  devices?: DevicesConfig
  logLevel: string
  pretty: boolean
  /** Resource profile (profile.ts): connection limits, cache sizes, V8 settings. */
  profile: Profile
  /** Added to this hub's clock (ms). For tests of clock skew only: a real hub keeps 0. */
  clockOffsetMs: number
  /** `ecandle doctor` and GET /health: a device with no report for this long is silent. */
  health: { deviceSilentS: number }
  /** Writes stop (and reports are not acknowledged) while the data disk has less free space than this. */
  minFreeDiskBytes: number
}

export interface ConfigFile {
  network?: string
  listen?: string[]
  announce?: string[]
  bootstrap?: string[]
  reach?: ReachConfigFile
  api?: { host?: string, port?: number }
  entryIntervalMs?: number
  syncIntervalMs?: number
  emulator?: { keys?: string, reportIntervalS?: number } | null
  devices?: unknown
  log?: { level?: string, pretty?: boolean }
  profile?: string
  clockOffsetMs?: number
  health?: { deviceSilentS?: number }
  minFreeDiskBytes?: number
}

export interface ConfigOverrides {
  listen?: string[]
  announce?: string[]
  bootstrap?: string[]
  apiPort?: number
  apiHost?: string
  entryIntervalMs?: number
  syncIntervalMs?: number
  logLevel?: string
  pretty?: boolean
  network?: string
  profile?: string
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

function num (v: unknown, what: string, min: number, max: number): number {
  const n = typeof v === 'string' ? Number(v) : v
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw new CliError(`config: ${what} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`)
  return n
}

export async function loadConfig (dataDir: string, flags: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): Promise<HubConfig> {
  const dir = resolve(dataDir)
  const path = join(dir, 'config.json')
  let file: ConfigFile = {}
  let text: string | undefined
  try {
    text = await readFile(path, 'utf8')
  } catch {
    throw new CliError(`no hub config at ${path} (run \`ecandle init --data-dir ${dataDir} --network FILE\`)`)
  }
  try {
    file = JSON.parse(text)
  } catch (err: any) {
    throw new CliError(`config ${path}: not valid JSON (${String(err.message)})`)
  }
  if (typeof file !== 'object' || file === null || Array.isArray(file)) throw new CliError(`config ${path}: expected a JSON object`)
  const known = ['network', 'listen', 'announce', 'bootstrap', 'reach', 'api', 'entryIntervalMs', 'syncIntervalMs', 'emulator', 'devices', 'log', 'profile', 'clockOffsetMs', 'health', 'minFreeDiskBytes']
  for (const k of Object.keys(file)) if (!known.includes(k)) throw new CliError(`config ${path}: unknown field "${k}"`)
  const rel = (p: string): string => isAbsolute(p) ? p : join(dir, p)
  const list = (what: string, flag: string[] | undefined, envVar: string | undefined, fromFile: unknown, dflt: string[], withPeer = false): string[] =>
    parseMultiaddrs(`config: ${what}`, flag ?? (envVar === undefined || envVar === '' ? undefined : envVar.split(',')) ?? fromFile ?? dflt, withPeer)
  const listen = list('listen', flags.listen, env.ECANDLE_LISTEN, file.listen, ['/ip4/0.0.0.0/tcp/4001'])
  const announce = list('announce', flags.announce, env.ECANDLE_ANNOUNCE, file.announce, [])
  const bootstrap = list('bootstrap', flags.bootstrap, env.ECANDLE_BOOTSTRAP, file.bootstrap, [], true)
  const logLevel = flags.logLevel ?? env.ECANDLE_LOG_LEVEL ?? file.log?.level ?? 'info'
  if (!LEVELS.includes(logLevel)) throw new CliError(`config: log level must be one of ${LEVELS.join(', ')}`)
  const networkPath = flags.network ?? env.ECANDLE_NETWORK ?? file.network
  if (networkPath === undefined) throw new CliError(`config ${path}: "network" (path of the network file) is missing`)
  const emu = file.emulator
  const profileName = flags.profile ?? env.ECANDLE_PROFILE ?? file.profile ?? 'default'
  const profile = profileByName(profileName)
  if (profile === undefined) throw new CliError(`config: profile must be one of ${PROFILE_NAMES.join(', ')}, got ${JSON.stringify(profileName)}`)
  if (file.health !== undefined && (typeof file.health !== 'object' || file.health === null || Object.keys(file.health).some(k => k !== 'deviceSilentS'))) throw new CliError('config: health must be { "deviceSilentS": <seconds> }')
  return {
    dataDir: dir,
    networkPath: rel(networkPath),
    dbPath: join(dir, 'db'),
    keyPath: join(dir, 'hub.key'),
    voteGuardPath: join(dir, VOTE_GUARD_FILE),
    tokenPath: join(dir, 'api.token'),
    listen,
    announce,
    bootstrap,
    reach: parseReachConfig(file.reach, listen),
    apiHost: flags.apiHost ?? env.ECANDLE_API_HOST ?? file.api?.host ?? '127.0.0.1',
    apiPort: num(flags.apiPort ?? env.ECANDLE_API_PORT ?? file.api?.port ?? 0, 'api.port', 0, 65535),
    entryIntervalMs: num(flags.entryIntervalMs ?? env.ECANDLE_ENTRY_INTERVAL_MS ?? file.entryIntervalMs ?? 5000, 'entryIntervalMs', 50, 3_600_000),
    syncIntervalMs: num(flags.syncIntervalMs ?? env.ECANDLE_SYNC_INTERVAL_MS ?? file.syncIntervalMs ?? 3000, 'syncIntervalMs', 100, 3_600_000),
    emulator: emu == null ? undefined : { keysPath: rel(emu.keys ?? 'devices.json'), reportIntervalS: num(emu.reportIntervalS ?? 10, 'emulator.reportIntervalS', 1, 86400) },
    devices: parseDevicesConfig(file.devices, rel),
    logLevel,
    pretty: flags.pretty ?? (env.ECANDLE_LOG_PRETTY === '1' || file.log?.pretty === true),
    profile,
    clockOffsetMs: num(env.ECANDLE_CLOCK_OFFSET_MS ?? file.clockOffsetMs ?? 0, 'clockOffsetMs', -86_400_000, 86_400_000),
    health: { deviceSilentS: num(file.health?.deviceSilentS ?? 3600, 'health.deviceSilentS', 1, 30 * 86_400) },
    minFreeDiskBytes: num(env.ECANDLE_MIN_FREE_DISK_BYTES ?? file.minFreeDiskBytes ?? 32 * 1024 * 1024, 'minFreeDiskBytes', 0, 2 ** 50)
  }
}

/**
 * A list of multiaddrs (config field or flag `what`), each parsed: a typo stops with the field and
 * the address. `withPeer`: each must end in /p2p/<peer id> (bootstrap peers).
 */
export function parseMultiaddrs (what: string, v: unknown, withPeer = false): string[] {
  if (!Array.isArray(v) || !v.every(a => typeof a === 'string')) throw new CliError(`${what} must be a list of multiaddrs`)
  for (const a of v) {
    let peer: string | null
    try {
      peer = multiaddr(a).getPeerId()
    } catch (err: any) {
      throw new CliError(`${what}: "${a}" is not a multiaddr (${String(err?.message ?? err)})`)
    }
    if (withPeer && peer === null) throw new CliError(`${what}: "${a}" must end in /p2p/<peer id>`)
  }
  return v
}

export async function loadNetwork (path: string): Promise<Network> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    throw new CliError(`network file not found: ${path}`)
  }
  try {
    return parseNetwork(text)
  } catch (err) {
    if (err instanceof ProtocolError) throw new CliError(`${path}: ${err.message}`)
    throw err
  }
}

export { dirname }
