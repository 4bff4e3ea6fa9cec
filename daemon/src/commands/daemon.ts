import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { DeviceKeyFile } from '@ecandle/emulator'
import { StoreError } from '@ecandle/store'
import { startApi } from '../api.js'
import { loadConfig, loadNetwork, type ConfigOverrides } from '../config.js'
import { CliError } from '../errors.js'
import { Hub } from '../hub.js'
import { createApiToken, readApiToken, readHubKey, readSecretFile } from '../keys.js'
import { createLogger } from '../logger.js'
import { existsSync } from 'node:fs'
import { setFlagsFromString } from 'node:v8'
import type { Profile } from '../profile.js'

/** `ecandle daemon`: runs a hub until SIGINT/SIGTERM, then stops cleanly. */
export async function runDaemon (dataDir: string, flags: ConfigOverrides): Promise<void> {
  const config = await loadConfig(dataDir, flags)
  applyNodeSettings(config.profile)
  const net = await loadNetwork(config.networkPath)
  const seed = await readHubKey(config.keyPath)
  const token = existsSync(config.tokenPath) ? await readApiToken(config.tokenPath) : await createApiToken(config.tokenPath)
  let deviceKeys: DeviceKeyFile | undefined
  if (config.emulator !== undefined) {
    try {
      deviceKeys = JSON.parse(await readSecretFile(config.emulator.keysPath, 'device key file'))
    } catch (err) {
      if (err instanceof CliError) throw err
      throw new CliError(`device key file ${config.emulator.keysPath}: not valid JSON`)
    }
  }
  const log = createLogger(config.logLevel, config.pretty)
  // Bad input must never crash a hub: a stray rejection is a bug to log, not a reason to stop.
  process.on('unhandledRejection', (err: any) => { log.error({ err: String(err?.stack ?? err) }, 'unhandled rejection') })
  const hub = new Hub(net, seed, config, log, deviceKeys)
  try {
    await hub.start()
  } catch (err) {
    await hub.stop().catch(() => {})
    if (err instanceof StoreError) throw new CliError(`${config.dbPath}: ${err.message}`)
    throw err
  }
  const api = await startApi(hub, { host: config.apiHost, port: config.apiPort, token })
  const port = (api.server.address() as { port: number }).port
  const apiFile = join(config.dataDir, 'api.json')
  await writeFile(apiFile, JSON.stringify({ url: `http://${config.apiHost}:${port}`, pid: process.pid }) + '\n')
  log.info({ api: `http://${config.apiHost}:${port}` }, 'API listening')

  await new Promise<void>(resolve => {
    const stop = (sig: string): void => {
      log.info({ signal: sig }, 'stopping')
      resolve()
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  await api.close()
  await hub.stop()
  await rm(apiFile, { force: true })
  log.info('stopped')
}

/**
 * A profile's V8 flags and allocator environment take effect only at process start: the first
 * time round, the daemon replaces itself (`process.execve`: same pid, same stdio, same
 * arguments) with those added. Node < 22.15 has no execve: the numbers of the profile still apply.
 */
function applyNodeSettings (profile: Profile): void {
  const { flags, env, heapGrowingPercent } = profile.node
  setFlagsFromString(`--heap-growing-percent=${heapGrowingPercent}`)
  if ((flags.length === 0 && Object.keys(env).length === 0) || process.env.ECANDLE_NODE_SETTINGS === profile.name) return
  const execve = (process as unknown as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve
  if (typeof execve !== 'function') {
    process.stderr.write(`ecandle: profile ${profile.name}: this Node (${process.version}) cannot re-execute itself; start it with ${[...flags].join(' ')} and ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')} for the full effect\n`)
    return
  }
  execve(process.execPath, [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)], { ...process.env, ...env, ECANDLE_NODE_SETTINGS: profile.name })
}

/** The API address of a running hub, from `<data-dir>/api.json`. */
export async function apiUrl (dataDir: string): Promise<string> {
  try {
    return JSON.parse(await readFile(join(dataDir, 'api.json'), 'utf8')).url
  } catch {
    throw new CliError(`no running hub found in ${dataDir} (no api.json: is \`ecandle daemon\` running?)`)
  }
}
