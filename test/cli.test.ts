import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { chmod, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Store } from '@ecandle/store'
import { printTailsOnFailure, runCli, Testnet } from './lib/testnet.js'

/** stderr must be exactly one non-empty line. */
function oneLine (stderr: string, what: string): string {
  const lines = stderr.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  assert.equal(lines.length, 1, `${what}: expected one line on stderr, got ${lines.length}:\n${stderr}`)
  assert.ok(lines[0].trim().length > 0, `${what}: the stderr line is empty`)
  return lines[0]
}

describe('ecandle daemon: bad input', function () {
  let tn: Testnet | undefined
  let other: Testnet | undefined

  before(async () => {
    tn = await Testnet.create({ hubs: 6, devicesPerHub: 1 })
    other = await Testnet.create({ hubs: 1, devicesPerHub: 0 })
  })
  afterEach(function () { printTailsOnFailure(this, tn) })
  after(async () => {
    await tn?.destroy()
    await other?.destroy()
  })

  /** Runs `ecandle daemon --data-dir dir ...`; it must exit non-zero at once with one line naming `problem`. */
  async function refuses (dir: string, problem: RegExp, extra: string[] = []): Promise<void> {
    const r = await runCli(['daemon', '--data-dir', dir, ...extra], { timeoutMs: 20_000 })
    const line = oneLine(r.stderr, `daemon ${problem}`)
    assert.notEqual(r.code, 0, `exit code 0 for ${problem}; stderr: ${r.stderr}`)
    assert.equal(r.code, 1, `exit code ${String(r.code)} (expected 1, a clear refusal, not a crash) for ${problem}; stderr: ${r.stderr}`)
    assert.match(line, problem)
    assert.doesNotMatch(line, /unexpected error|\bat .*\.js:\d+/, 'a clear message, not a stack trace')
    assert.ok(!existsSync(join(dir, 'api.json')), 'no API came up')
  }

  it('refuses a malformed config.json', async () => {
    const dir = (tn as Testnet).hubs[0].dir
    await writeFile(join(dir, 'config.json'), '{ "network": "../network.json", \n')
    await refuses(dir, /config .*config\.json.*not valid JSON/)
  })

  it('refuses a config.json with an unknown field', async () => {
    const dir = (tn as Testnet).hubs[0].dir
    await writeFile(join(dir, 'config.json'), JSON.stringify({ network: '../network.json', entryIntervalMS: 500 }))
    await refuses(dir, /unknown field "entryIntervalMS"/)
  })

  it('refuses a malformed network file', async () => {
    const net = tn as Testnet
    const bad = join(net.dir, 'bad-network.json')
    await writeFile(bad, '{"name": "x", "genesisTime": ')
    await refuses(net.hubs[1].dir, /bad-network\.json/, ['--network', bad])
    // Valid JSON, but not a network definition.
    const def = JSON.parse(await readFile(net.networkPath, 'utf8'))
    def.validators = 'all of them'
    await writeFile(bad, JSON.stringify(def))
    await refuses(net.hubs[1].dir, /bad-network\.json.*validators/, ['--network', bad])
  })

  it('refuses a database of another network', async () => {
    const net = tn as Testnet
    // A database made by (and for) the other network, where this hub keeps its own.
    const store = await Store.open(join(net.hubs[2].dir, 'db'), (other as Testnet).net.id)
    await store.close()
    await refuses(net.hubs[2].dir, new RegExp(`db.*belongs to network ${(other as Testnet).net.id}, not ${net.net.id}`))
  })

  it('refuses a missing hub key', async () => {
    const dir = (tn as Testnet).hubs[3].dir
    await rm(join(dir, 'hub.key'))
    await refuses(dir, /hub key not found at .*hub\.key/)
  })

  it('refuses a hub key whose mode is not 0600', async () => {
    const dir = (tn as Testnet).hubs[4].dir
    await chmod(join(dir, 'hub.key'), 0o644)
    await refuses(dir, /hub key .*hub\.key has mode 0644.*0600/)
  })

  it('the same hub dir, left intact, does start (the refusals above are about what was broken)', async () => {
    const hub = (tn as Testnet).hubs[5]
    await hub.start()
    assert.equal((await hub.status()).peerId, hub.peerId)
    await hub.stop()
  })

  it('ecandle status refuses with one line when no hub runs', async () => {
    const r = await runCli(['status', '--data-dir', (tn as Testnet).hubs[5].dir, '--json'])
    assert.notEqual(r.code, 0)
    assert.match(oneLine(r.stderr, 'status without a hub'), /no running hub found/)
    assert.equal(r.stdout, '')
  })
})
