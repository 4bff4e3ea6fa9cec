import assert from 'node:assert/strict'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CliError, createHubKey, loadConfig, loadNetwork, readHubKey } from '../src/index.js'

describe('config and keys', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'ecandle-config-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  const cliError = (part: string) => (err: unknown): boolean => err instanceof CliError && err.message.includes(part)

  it('layers file, environment and flags, in that order', async () => {
    await writeFile(join(dir, 'config.json'), JSON.stringify({ network: 'n.json', entryIntervalMs: 2000, api: { port: 7000 } }))
    const c = await loadConfig(dir, { apiPort: 7002 }, { ECANDLE_ENTRY_INTERVAL_MS: '3000', ECANDLE_API_PORT: '7001' })
    assert.equal(c.entryIntervalMs, 3000)
    assert.equal(c.apiPort, 7002)
    assert.equal(c.apiHost, '127.0.0.1', 'the API binds loopback by default')
    assert.equal(c.networkPath, join(dir, 'n.json'))
  })

  it('names the problem in a bad config file', async () => {
    await assert.rejects(loadConfig(dir), cliError('no hub config'))
    await writeFile(join(dir, 'config.json'), '{ not json')
    await assert.rejects(loadConfig(dir), cliError('not valid JSON'))
    await writeFile(join(dir, 'config.json'), JSON.stringify({ network: 'n.json', colour: 'red' }))
    await assert.rejects(loadConfig(dir), cliError('unknown field "colour"'))
    await writeFile(join(dir, 'config.json'), JSON.stringify({ network: 'n.json', entryIntervalMs: -5 }))
    await assert.rejects(loadConfig(dir), cliError('entryIntervalMs'))
  })

  it('profile, clock offset and health settings: defaults, layering and bad values named', async () => {
    await writeFile(join(dir, 'config.json'), JSON.stringify({ network: 'n.json' }))
    const d = await loadConfig(dir, {}, {})
    assert.equal(d.profile.name, 'default')
    assert.equal(d.clockOffsetMs, 0)
    assert.equal(d.health.deviceSilentS, 3600)
    await writeFile(join(dir, 'config.json'), JSON.stringify({ network: 'n.json', profile: 'lowpower', clockOffsetMs: -5000, health: { deviceSilentS: 60 } }))
    const c = await loadConfig(dir, {}, {})
    assert.equal(c.profile.name, 'lowpower')
    assert.ok(c.profile.connections.maxConnections < d.profile.connections.maxConnections && c.profile.leveldb.cacheSize < d.profile.leveldb.cacheSize)
    assert.equal(c.clockOffsetMs, -5000)
    assert.equal(c.health.deviceSilentS, 60)
    assert.equal((await loadConfig(dir, { profile: 'default' }, { ECANDLE_PROFILE: 'lowpower' })).profile.name, 'default', 'a flag beats the environment')
    assert.equal((await loadConfig(dir, {}, { ECANDLE_PROFILE: 'default' })).profile.name, 'default', 'the environment beats the file')
    await assert.rejects(loadConfig(dir, { profile: 'turbo' }, {}), cliError('profile must be one of default, lowpower'))
    await writeFile(join(dir, 'config.json'), JSON.stringify({ network: 'n.json', health: { silent: 5 } }))
    await assert.rejects(loadConfig(dir, {}, {}), cliError('health must be'))
    await writeFile(join(dir, 'config.json'), JSON.stringify({ network: 'n.json', clockOffsetMs: 1.5 }))
    await assert.rejects(loadConfig(dir, {}, {}), cliError('clockOffsetMs'))
  })

  it('writes hub keys with mode 0600 and refuses one readable by others', async () => {
    const path = join(dir, 'hub.key')
    const seed = await createHubKey(path)
    assert.deepEqual(await readHubKey(path), seed)
    await chmod(path, 0o644)
    await assert.rejects(readHubKey(path), cliError('must be 0600'))
    await assert.rejects(readHubKey(join(dir, 'missing.key')), cliError('not found'))
  })

  it('explains a malformed network file', async () => {
    const path = join(dir, 'network.json')
    await writeFile(path, JSON.stringify({ name: 'x', genesisTime: 1 }))
    await assert.rejects(loadNetwork(path), cliError('epochLengthS'))
  })
})
