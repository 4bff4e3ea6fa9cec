import { chmod, open, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { randomBytes } from 'node:crypto'
import { fromHex, generateSeed, toHex } from '@ecandle/protocol'
import { CliError } from './errors.js'

/**
 * Key files are JSON with a hex seed, mode 0600, and refused if anyone but the owner can read them.
 * Nothing here ever logs a key.
 */
export async function writeSecretFile (path: string, content: string): Promise<void> {
  await writeFile(path, content, { mode: 0o600, flag: 'wx' })
  await chmod(path, 0o600)
}

/**
 * Replaces `path` (mode 0600) with `content`, durably: a temp file written and fsynced, renamed over
 * `path`, the directory fsynced. After a crash the file is the old one or the new, never half of one.
 */
export async function replaceSecretFile (path: string, content: string): Promise<void> {
  const tmp = `${path}.tmp`
  const fh = await open(tmp, 'w', 0o600)
  try {
    await fh.chmod(0o600)
    await fh.writeFile(content)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, path)
  const dir = await open(dirname(path), 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}

export async function readSecretFile (path: string, what: string): Promise<string> {
  let st
  try {
    st = await stat(path)
  } catch {
    throw new CliError(`${what} not found at ${path} (run \`ecandle init\` to create one)`)
  }
  const mode = st.mode & 0o777
  if (mode !== 0o600) throw new CliError(`${what} ${path} has mode ${mode.toString(8).padStart(4, '0')}; it must be 0600 (chmod 600 ${path})`)
  return await readFile(path, 'utf8')
}

export async function createHubKey (path: string, seed: Uint8Array = generateSeed()): Promise<Uint8Array> {
  await writeSecretFile(path, JSON.stringify({ type: 'ed25519', seed: toHex(seed) }) + '\n')
  return seed
}

export async function readHubKey (path: string): Promise<Uint8Array> {
  const text = await readSecretFile(path, 'hub key')
  try {
    const j = JSON.parse(text)
    if (j?.type !== 'ed25519' || typeof j.seed !== 'string') throw new Error('shape')
    return fromHex(j.seed, 'seed', 32)
  } catch {
    throw new CliError(`hub key ${path} is not a valid key file (expected {"type":"ed25519","seed":"<64 hex>"})`)
  }
}

export async function createApiToken (path: string): Promise<string> {
  const token = randomBytes(32).toString('base64url')
  await writeSecretFile(path, token + '\n')
  return token
}

export async function readApiToken (path: string): Promise<string> {
  return (await readSecretFile(path, 'API token')).trim()
}
