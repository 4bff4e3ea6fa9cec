import { mkdir, writeFile } from 'node:fs/promises'
import { freePort } from '@ecandle/emulator'
import { isIPv6 } from 'node:net'
import { join, relative } from 'node:path'
import { generateSeed, parseNetwork, peerIdFromPublicKey, signerFromSeed, toHex, type NetworkDefinition } from '@ecandle/protocol'
import { createApiToken, createHubKey, writeSecretFile } from '../keys.js'
import type { ConfigFile } from '../config.js'
import type { ReachConfigFile } from '../reach-config.js'

export interface InitHubOptions {
  networkPath: string
  listen: string[]
  /** Addresses announced besides the listen ones (a port forward, a TLS proxy). */
  announce?: string[]
  /** Peers dialled besides the network file's bootstrap list. */
  bootstrap?: string[]
  reach?: ReachConfigFile
  seed?: Uint8Array
  emulator?: { reportIntervalS: number }
  entryIntervalMs?: number
  /** Local API port (default 0: a free port at each start). */
  apiPort?: number
}

/** Creates a hub data dir: key (0600), API token (0600), config.json. */
export async function initHubDir (dir: string, opts: InitHubOptions): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const seed = await createHubKey(join(dir, 'hub.key'), opts.seed)
  await createApiToken(join(dir, 'api.token'))
  const config: ConfigFile = {
    network: relative(dir, opts.networkPath),
    listen: opts.listen,
    announce: opts.announce ?? [],
    bootstrap: opts.bootstrap ?? [],
    ...(opts.reach === undefined ? {} : { reach: opts.reach }),
    api: { host: '127.0.0.1', port: opts.apiPort ?? 0 },
    entryIntervalMs: opts.entryIntervalMs ?? 5000,
    syncIntervalMs: 3000,
    emulator: opts.emulator === undefined ? null : { keys: 'devices.json', reportIntervalS: opts.emulator.reportIntervalS },
    log: { level: 'info', pretty: false }
  }
  await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n', { flag: 'wx' })
  return peerIdFromPublicKey(signerFromSeed(seed).publicKey)
}

/** Community hub places (integer micro-degrees, as the network file holds them): the emulator shapes sunlight by them. */
const PLACES = [
  { name: 'Nairobi', latE6: -1_290_000, lonE6: 36_820_000 }, { name: 'Lagos', latE6: 6_520_000, lonE6: 3_380_000 },
  { name: 'Lima', latE6: -12_050_000, lonE6: -77_040_000 }, { name: 'Kampala', latE6: 350_000, lonE6: 32_580_000 },
  { name: 'Bogota', latE6: 4_710_000, lonE6: -74_070_000 }, { name: 'Accra', latE6: 5_600_000, lonE6: -190_000 },
  { name: 'Quito', latE6: -180_000, lonE6: -78_470_000 }, { name: 'Dar es Salaam', latE6: -6_790_000, lonE6: 39_210_000 },
  { name: 'Guatemala', latE6: 14_630_000, lonE6: -90_510_000 }, { name: 'Kinshasa', latE6: -4_320_000, lonE6: 15_310_000 }
]

export interface CreateNetworkOptions {
  dir: string
  hubs: number
  devicesPerHub: number
  name?: string
  epochLengthS?: number
  gracePeriodS?: number
  reportIntervalS?: number
  entryIntervalMs?: number
  /** The address every hub listens on and the bootstrap list names (default 127.0.0.1). */
  host?: string
  /** Bootstrap multiaddrs of the network file (default: every hub's listen address). */
  bootstrap?: string[]
  /** Genesis time, unix s (default: now). */
  genesisTime?: number
  /** Hub i (from 0) gets local API port apiPortBase + i (default: a free port at each start). */
  apiPortBase?: number
  /** Maker keys (hex): a device-add then needs a maker's signature (docs/governance.md §2). */
  makers?: string[]
}

export interface CreatedNetwork { networkPath: string, hubDirs: string[], peerIds: string[], ports: number[] }

/**
 * Writes a testnet: network.json, accounts.json (0600), and hub-1..N data dirs each with a hub
 * key, config and the keys of its emulated devices (0600). Ports are picked free on the host.
 */
export async function createNetwork (o: CreateNetworkOptions): Promise<CreatedNetwork> {
  if (!Number.isInteger(o.hubs) || o.hubs < 1 || o.hubs > 64) throw new Error('--hubs must be 1..64')
  if (!Number.isInteger(o.devicesPerHub) || o.devicesPerHub < 0 || o.devicesPerHub > 5000) throw new Error('--devices-per-hub must be 0..5000')
  const host = o.host ?? '127.0.0.1'
  await mkdir(o.dir, { recursive: true })
  const networkPath = join(o.dir, 'network.json')
  const hubSeeds = Array.from({ length: o.hubs }, () => generateSeed())
  const peerIds = hubSeeds.map(s => peerIdFromPublicKey(signerFromSeed(s).publicKey))
  const ports: number[] = []
  for (let i = 0; i < o.hubs; i++) ports.push(await freePort())
  const account = (): { seed: string, account: string } => {
    const seed = generateSeed()
    return { seed: toHex(seed), account: toHex(signerFromSeed(seed).publicKey) }
  }
  const operators = peerIds.map(() => account())
  const backers = Array.from({ length: Math.max(1, Math.min(5, o.hubs)) }, () => account())
  const deviceKeys: Array<Array<{ id: string, seed: string, ratedWhPerDay: number }>> = []
  const def: NetworkDefinition = {
    name: o.name ?? 'ecandle-testnet',
    genesisTime: o.genesisTime ?? Math.floor(Date.now() / 1000),
    epochLengthS: o.epochLengthS ?? 60,
    gracePeriodS: o.gracePeriodS ?? 10,
    emissionPerEpoch: '1000000000',
    capexBps: 6000,
    deviceCapMwhPerEpoch: '1000000',
    validators: peerIds.map((peerId, i) => ({ peerId, operator: operators[i].account, location: { latE6: PLACES[i % PLACES.length].latE6, lonE6: PLACES[i % PLACES.length].lonE6 } })),
    devices: [],
    bootstrap: o.bootstrap ?? peerIds.map((id, i) => `/${isIPv6(host) ? 'ip6' : 'ip4'}/${host}/tcp/${ports[i]}/p2p/${id}`),
    ...(o.makers === undefined ? {} : { makers: [...o.makers].sort() })
  }
  peerIds.forEach((hub, i) => {
    deviceKeys.push([])
    for (let j = 1; j <= o.devicesPerHub; j++) {
      const seed = generateSeed()
      const id = `h${i + 1}-d${String(j).padStart(3, '0')}`
      const ratedWhPerDay = 100 + 25 * (j % 5)
      def.devices.push({ id, publicKey: toHex(signerFromSeed(seed).publicKey), hub, capex: backers[(i + j) % backers.length].account, opex: operators[i].account, ratedWhPerDay })
      deviceKeys[i].push({ id, seed: toHex(seed), ratedWhPerDay })
    }
  })
  parseNetwork(def) // the file we write must be one we accept
  await writeFile(networkPath, JSON.stringify(def, null, 2) + '\n')
  await writeSecretFile(join(o.dir, 'accounts.json'), JSON.stringify({ operators, backers }, null, 2) + '\n')
  const hubDirs: string[] = []
  for (let i = 0; i < o.hubs; i++) {
    const dir = join(o.dir, `hub-${i + 1}`)
    await initHubDir(dir, { networkPath, listen: [`/${isIPv6(host) ? 'ip6' : 'ip4'}/${host}/tcp/${ports[i]}`], seed: hubSeeds[i], emulator: { reportIntervalS: o.reportIntervalS ?? 10 }, entryIntervalMs: o.entryIntervalMs, apiPort: o.apiPortBase === undefined ? undefined : o.apiPortBase + i })
    await writeSecretFile(join(dir, 'devices.json'), JSON.stringify({ devices: deviceKeys[i] }, null, 2) + '\n')
    hubDirs.push(dir)
  }
  return { networkPath, hubDirs, peerIds, ports }
}
