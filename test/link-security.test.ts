import assert from 'node:assert/strict'
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs'
import { connect as tcpConnect } from 'node:net'
import { join } from 'node:path'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { decodeMessage, encodeMessage, mqttTopics } from '@ecandle/hardware-bridge'
import { fromHex, signReport, signerFromSeed } from '@ecandle/protocol'
import { EmulateProc, freePort, requireTool, writeKeySubset } from './lib/links.js'
import { makePki, type TestPki } from './lib/tls.js'
import { Testnet, getStatusCode, printTailsOnFailure, runCli, waitFor, type TestHub } from './lib/testnet.js'
import { stopChild } from '@ecandle/emulator/testing'
import type { HealthReport } from '@ecandle/client'

/**
 * Device link security against real brokers: the hub's embedded aedes broker (per-device
 * passwords from `ecandle mqtt-credentials`, client certificates, TLS, the ACL) and a real
 * mosquitto (TLS listener, password file, ACL) that the hub joins with a username, a password file
 * and a CA. Certificates come from openssl. Each case: who is refused, that the refusal is logged
 * with the client id, that a device cannot publish on another device's topic, and that an
 * authenticated device's reports are stored as before.
 */
describe('device link security: credentials, TLS and ACL (embedded broker and mosquitto)', function () {
  this.timeout(120_000)
  let net: Testnet | undefined
  let emus: EmulateProc[] = []
  let mosq: ChildProcess | undefined
  const clients: MqttClient[] = []

  before(() => { requireTool('mosquitto'); requireTool('mosquitto_passwd'); requireTool('openssl') })

  afterEach(async function () {
    printTailsOnFailure(this, net)
    if (this.currentTest?.state === 'failed') for (const e of emus) process.stderr.write(`----- emulator ${e.dir}\n${e.logTail()}\n`)
    for (const c of clients.splice(0)) await c.endAsync(true).catch(() => {})
    for (const e of emus) await e.stop()
    await net?.stopAll()
    await stopChild(mosq)
    await net?.destroy()
    net = undefined; mosq = undefined; emus = []
  })

  const ids = (t: Testnet): string[] => t.net.def.devices.map(d => d.id)

  function emulator (t: Testnet, name: string, devices: string[], args: string[]): EmulateProc {
    const keys = join(t.dir, `${name}-keys.json`)
    writeKeySubset(t.hubs[0].deviceKeysPath, keys, devices)
    const e = new EmulateProc(join(t.dir, name), keys)
    emus.push(e)
    e.start(['--interval', '1', '--resend-ms', '1000', ...args])
    return e
  }

  /** One MQTT connection, resolved at CONNACK or rejected with the broker's refusal. */
  async function client (url: string, o: IClientOptions): Promise<MqttClient> {
    const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...o }, false)
    clients.push(c)
    return c
  }

  async function refusal (url: string, o: IClientOptions): Promise<string> {
    try {
      const c = await client(url, o)
      await c.endAsync(true)
      return 'accepted'
    } catch (err) {
      return String((err as Error).message)
    }
  }

  /** A report of `device` signed with its key from the hub's device key file, storable by the hub. */
  function signedReport (hub: TestHub, device: string): { bytes: Uint8Array, counter: number } {
    const keys = JSON.parse(readFileSync(hub.deviceKeysPath, 'utf8')) as { devices: Array<{ id: string, seed: string }> }
    const seed = keys.devices.find(d => d.id === device)?.seed
    assert.ok(seed !== undefined)
    const end = Math.floor(Date.now() / 1000) - 2
    const counter = end
    const bytes = signReport(signerFromSeed(fromHex(seed, 'seed', 32)), { device, counter, periodStart: end - 10, periodEnd: end, energyMwh: 1, solarMwh: 5, litS: 5, batteryMv: 12_600, soc: 80, tempDeciC: 250, faults: 0 })
    return { bytes, counter }
  }

  /** `device` publishes `bytes` on its own topic and reads the hub's ack from its own down topic. */
  async function sendOwn (url: string, o: IClientOptions, network: string, device: string, r: { bytes: Uint8Array, counter: number }): Promise<string> {
    const c = await client(url, o)
    const ack = new Promise<string>((resolve) => {
      c.on('message', (_t, body) => {
        try {
          const m = decodeMessage(new Uint8Array(body))
          if (m.type === 'ack' && m.counter === r.counter) resolve(m.status)
        } catch {}
      })
    })
    await c.subscribeAsync(mqttTopics.down(network, device), { qos: 1 })
    await c.publishAsync(mqttTopics.up(network, device), Buffer.from(encodeMessage({ type: 'report', report: r.bytes })), { qos: 1 })
    return await Promise.race([ack, new Promise<string>((_resolve, reject) => setTimeout(() => { reject(new Error(`no ack of ${device}#${r.counter} within 20 s`)) }, 20_000))])
  }

  function logHas (hub: TestHub, re: RegExp): string | undefined {
    return readFileSync(hub.logPath, 'utf8').split('\n').find(l => re.test(l))
  }

  async function credentials (t: Testnet): Promise<Record<string, string>> {
    const out = join(t.dir, 'device-passwords.json')
    const r = await runCli(['mqtt-credentials', '--data-dir', t.hubs[0].dir, '--out', out])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(readFileSync(out).length > 0 && (execFileSync('stat', ['-c', '%a', out]).toString().trim()), '600')
    assert.equal(execFileSync('stat', ['-c', '%a', join(t.hubs[0].dir, 'mqtt-credentials.json')]).toString().trim(), '600')
    return (JSON.parse(readFileSync(out, 'utf8')) as { devices: Record<string, string> }).devices
  }

  it('embedded broker: TLS, per-device passwords and client certificates, ACL; every refusal logged with the client id', async () => {
    net = await Testnet.create({ hubs: 1, devicesPerHub: 3 })
    const t = net
    const hub = t.hubs[0]
    const [d1, d2, d3] = ids(t)
    const pki: TestPki = makePki(join(t.dir, 'pki'))
    pki.client(d3)
    const passwords = await credentials(t)
    const port = await freePort()
    hub.configure(c => {
      c.emulator = null
      c.devices = { mqtt: { embedded: { host: '127.0.0.1', port, credentialsFile: 'mqtt-credentials.json', tls: { certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.ca } } } }
    })
    await hub.start()
    const url = `mqtts://127.0.0.1:${port}`
    const tls = { ca: readFileSync(pki.ca) }
    const netId = t.net.id

    // An authenticated device (password) and one with a client certificate only: stored as before.
    const credFile = join(t.dir, 'device-passwords.json')
    const byPassword = emulator(t, 'emu-password', [d1], ['--mqtt', url, '--network', netId, '--credentials', credFile, '--ca', pki.ca])
    const byCert = emulator(t, 'emu-cert', [d3], ['--mqtt', url, '--network', netId, '--ca', pki.ca, '--certs', pki.dir])
    await waitFor('reports of the password device and the certificate device acknowledged', () => byPassword.durable().size >= 2 && byCert.durable().size >= 2, { timeoutMs: 30_000, describe: () => `${byPassword.durable().size} / ${byCert.durable().size}` })
    for (const k of [...byPassword.durable(), ...byCert.durable()]) assert.equal(await getStatusCode(`${hub.url ?? ''}/reports/${k.replace(':', '/')}`), 200, k)

    // Wrong password, no credentials, and plaintext to the TLS port: refused and logged by client id.
    assert.match(await refusal(url, { ...tls, clientId: 'sec-wrong-pw', username: d2, password: 'not-the-password' }), /Bad username or password/)
    assert.match(await refusal(url, { ...tls, clientId: 'sec-no-creds' }), /Not authorized/)
    assert.match(await refusal(`mqtt://127.0.0.1:${port}`, { clientId: 'sec-plaintext', username: d2, password: passwords[d2] }), /Not authorized/)
    await waitFor('the three refusals in the hub log', () => ['sec-wrong-pw', 'sec-no-creds', 'sec-plaintext'].every(id => logHas(hub, new RegExp(`"clientId":"${id}".*connection refused`)) !== undefined), { timeoutMs: 5000 })
    assert.match(logHas(hub, /"clientId":"sec-plaintext"/) ?? '', /requires TLS/)

    // d1, logged in, publishes a valid report of d2 on d2's topic: denied (connection closed), never stored.
    const r2 = signedReport(hub, d2)
    const thief = await client(url, { ...tls, clientId: 'sec-thief', username: d1, password: passwords[d1] })
    const closed = new Promise<void>(resolve => thief.once('close', () => { resolve() }))
    thief.publish(mqttTopics.up(netId, d2), Buffer.from(encodeMessage({ type: 'report', report: r2.bytes })), { qos: 1 })
    await closed
    await waitFor('the denied publish in the hub log', () => logHas(hub, /"clientId":"sec-thief".*publish denied/), { timeoutMs: 5000 })
    assert.equal(await getStatusCode(`${hub.url ?? ''}/reports/${d2}/${r2.counter}`), 404)
    // The same report from d2 itself is new to the hub: the forged copy never reached it.
    assert.equal(await sendOwn(url, { ...tls, clientId: 'sec-d2', username: d2, password: passwords[d2] }, netId, d2, r2), 'stored')
    const st = (await hub.status()).deviceLinks?.['mqtt-embedded'] as { refusedConnects: number, deniedPublishes: number }
    assert.ok(st.refusedConnects >= 3 && st.deniedPublishes >= 1, JSON.stringify(st))
  })

  it('mosquitto: the hub joins with username, password file and CA; wrong password or no TLS refused; ACL keeps devices to their topics', async () => {
    net = await Testnet.create({ hubs: 1, devicesPerHub: 2 })
    const t = net
    const hub = t.hubs[0]
    const [d1, d2] = ids(t)
    const dir = join(t.dir, 'mosquitto')
    mkdirSync(dir, { recursive: true })
    const pki = makePki(join(dir, 'pki'))
    const passwords = await credentials(t)
    const hubPassword = 'hub-secret-' + String(Date.now())
    const passwd = join(dir, 'passwd')
    execFileSync('mosquitto_passwd', ['-c', '-b', passwd, 'ecandle-hub', hubPassword], { stdio: 'ignore' })
    for (const [id, pw] of Object.entries(passwords)) execFileSync('mosquitto_passwd', ['-b', passwd, id, pw], { stdio: 'ignore' })
    // The ACL of docs/operations.md: the hub reads every device's up topic; a device only its own.
    const acl = join(dir, 'acl')
    writeFileSync(acl, readFileSync(new URL('../../docker/mosquitto/acl', import.meta.url)))
    const port = await freePort()
    writeFileSync(join(dir, 'mosquitto.conf'), [
      `listener ${port} 127.0.0.1`, `cafile ${pki.ca}`, `certfile ${pki.serverCert}`, `keyfile ${pki.serverKey}`,
      'allow_anonymous false', `password_file ${passwd}`, `acl_file ${acl}`, 'persistence false', 'log_type all',
      // Started as root, mosquitto would drop to user mosquitto and not read the 0600 key files of this test.
      'user root', ''
    ].join('\n'))
    const fd = openSync(join(dir, 'mosquitto.log'), 'a')
    mosq = spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', fd, fd] })
    closeSync(fd)
    await waitFor('mosquitto to listen', async () => await new Promise<boolean>(resolve => {
      const s = tcpConnect(port, '127.0.0.1', () => { s.destroy(); resolve(true) })
      s.on('error', () => { resolve(false) })
    }), { timeoutMs: 10_000, intervalMs: 50 })
    const url = `mqtts://127.0.0.1:${port}`
    const tls = { ca: readFileSync(pki.ca) }
    const pwFile = join(hub.dir, 'mqtt.password')
    const link = (s: { mqtt?: { lastConnectError?: string, connects?: number } } | undefined): { lastConnectError?: string, connects?: number } => s?.mqtt ?? {}

    // 1. The hub with a wrong password: mosquitto refuses it; the hub says so in /status and its log.
    writeFileSync(pwFile, 'wrong\n', { mode: 0o600 })
    chmodSync(pwFile, 0o600)
    hub.configure(c => { c.emulator = null; c.devices = { mqtt: { url, username: 'ecandle-hub', passwordFile: 'mqtt.password', caFile: pki.ca } } })
    await hub.start()
    await waitFor('the hub to be refused', async () => /Not authorized|Bad username/.test(link((await hub.status()).deviceLinks as never).lastConnectError ?? ''), { timeoutMs: 15_000 })
    assert.equal(link((await hub.status()).deviceLinks as never).connects, 0)
    assert.ok(logHas(hub, /cannot connect to the broker/))
    const health = await hub.get<HealthReport>('/health') // amber: 200
    assert.match(health.checks.find(c => c.check === 'devices')?.message ?? '', /device link cannot connect: mqtt: .*(Not authorized|Bad username)/)
    await hub.stop()

    // 2. Without TLS where TLS is required: the password is right but the hub speaks plain MQTT.
    writeFileSync(pwFile, hubPassword + '\n')
    hub.configure(c => { c.devices = { mqtt: { url: `mqtt://127.0.0.1:${port}`, username: 'ecandle-hub', passwordFile: 'mqtt.password' } } })
    await hub.start()
    await waitFor('mosquitto to drop the plaintext hub', () => /OpenSSL Error|protocol error|disconnected/i.test(readFileSync(join(dir, 'mosquitto.log'), 'utf8')), { timeoutMs: 15_000 })
    assert.equal(link((await hub.status()).deviceLinks as never).connects, 0)
    await hub.stop()

    // 3. Right password, TLS with our CA: an authenticated device's reports are stored as before.
    hub.configure(c => { c.devices = { mqtt: { url, username: 'ecandle-hub', passwordFile: 'mqtt.password', caFile: pki.ca } } })
    await hub.start()
    await waitFor('the hub connected to mosquitto', async () => (link((await hub.status()).deviceLinks as never).connects ?? 0) >= 1, { timeoutMs: 15_000 })
    const emu = emulator(t, 'emu', [d1], ['--mqtt', url, '--network', t.net.id, '--credentials', join(t.dir, 'device-passwords.json'), '--ca', pki.ca])
    await waitFor('d1\'s reports acknowledged through mosquitto', () => emu.durable().size >= 2, { timeoutMs: 30_000, describe: () => emu.logTail(3) })
    for (const k of emu.durable()) assert.equal(await getStatusCode(`${hub.url ?? ''}/reports/${k.replace(':', '/')}`), 200, k)

    // 4. A device with a wrong password, or without TLS, is refused by mosquitto.
    assert.match(await refusal(url, { ...tls, clientId: 'sec-wrong-pw', username: d2, password: 'nope' }), /Not authorized|Bad username/)
    assert.notEqual(await refusal(`mqtt://127.0.0.1:${port}`, { clientId: 'sec-plain', username: d2, password: passwords[d2] }), 'accepted')

    // 5. d1 publishes d2's report on d2's topic: mosquitto's ACL drops it; d2's own copy is then new to the hub.
    const r2 = signedReport(hub, d2)
    const thief = await client(url, { ...tls, clientId: 'sec-thief', username: d1, password: passwords[d1] })
    await thief.publishAsync(mqttTopics.up(t.net.id, d2), Buffer.from(encodeMessage({ type: 'report', report: r2.bytes })), { qos: 1 })
    await waitFor('mosquitto to log the denied publish', () => /Denied PUBLISH from sec-thief/.test(readFileSync(join(dir, 'mosquitto.log'), 'utf8')), { timeoutMs: 5000 })
    assert.equal(await sendOwn(url, { ...tls, clientId: 'sec-d2', username: d2, password: passwords[d2] }, t.net.id, d2, r2), 'stored')
  })
})
