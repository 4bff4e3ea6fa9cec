import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { hashPassword } from '@ecandle/hardware-bridge'
import { peerIdFromPublicKey, signerFromSeed } from '@ecandle/protocol'
import { loadConfig, loadNetwork } from '../config.js'
import { readCredentialsFile } from '../devices.js'
import { CliError } from '../errors.js'
import { readHubKey, replaceSecretFile, writeSecretFile } from '../keys.js'

/**
 * `ecandle mqtt-credentials`: a random password for each device of this hub. The hub keeps only
 * salted hashes (the embedded broker's credentialsFile, mode 0600); the passwords go to `out`
 * (mode 0600), once, to be put on the devices (or into mosquitto_passwd for a broker you run).
 */
export async function runMqttCredentials (dataDir: string, o: { out: string, devices?: string[] }): Promise<void> {
  const config = await loadConfig(dataDir)
  const net = await loadNetwork(config.networkPath)
  const peerId = peerIdFromPublicKey(signerFromSeed(await readHubKey(config.keyPath)).publicKey)
  const mine = [...net.devices].filter(([, d]) => d.info.hub === peerId).map(([id]) => id)
  const ids = o.devices ?? mine
  for (const id of ids) if (!mine.includes(id)) throw new CliError(`device ${id} is not registered to this hub (${peerId}) in the network file`)
  if (ids.length === 0) throw new CliError('this hub has no devices registered in the network file')
  if (existsSync(o.out)) throw new CliError(`${o.out} exists; name a new file for the passwords`)
  const m = config.devices?.mqtt
  const path = m !== undefined && 'embedded' in m && m.embedded.credentialsFile !== undefined ? m.embedded.credentialsFile : join(config.dataDir, 'mqtt-credentials.json')
  const hashes = existsSync(path) ? await readCredentialsFile(path) : new Map<string, string>()
  const passwords: Record<string, string> = {}
  for (const id of ids) {
    passwords[id] = randomBytes(16).toString('base64url')
    hashes.set(id, hashPassword(passwords[id]))
  }
  // Passwords first: if that fails, the hub's file still matches the devices'.
  await writeSecretFile(o.out, JSON.stringify({ devices: passwords }, null, 2) + '\n')
  await replaceSecretFile(path, JSON.stringify({ devices: Object.fromEntries([...hashes].sort()) }, null, 2) + '\n')
  process.stdout.write(`${ids.length} device password${ids.length === 1 ? '' : 's'} written to ${o.out} (mode 0600): put each on its device (username = device id), then delete the file\n` +
    `hashes in ${path}: the embedded broker reads it as devices.mqtt.embedded.credentialsFile (restart the hub)\n`)
}
