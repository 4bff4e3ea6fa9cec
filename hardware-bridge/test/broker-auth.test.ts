import assert from 'node:assert/strict'
import mqtt from 'mqtt'
import { connectClientId, hashPassword, startEmbeddedBroker, verifyPassword } from '../src/broker.js'

describe('embedded broker auth (pure parts and the ACL in-process)', function () {
  this.timeout(30_000)

  it('password hashes: salted, verified in constant time, anything else refused', () => {
    const h = hashPassword('s3cret-token')
    assert.match(h, /^sha256:[0-9a-f]{32}:[0-9a-f]{64}$/)
    assert.notEqual(hashPassword('s3cret-token'), h, 'a fresh salt each time')
    assert.equal(verifyPassword(h, 's3cret-token'), true)
    assert.equal(verifyPassword(h, Buffer.from('s3cret-token')), true)
    assert.equal(verifyPassword(h, 's3cret-tokeN'), false)
    assert.equal(verifyPassword('plain', 'plain'), false)
    assert.equal(verifyPassword('sha256:00:zz', 'x'), false)
  })

  it('reads the client id of a plaintext CONNECT (for the refusal log); anything else is "?"', () => {
    // CONNECT, MQTT 3.1.1, clean session, keep-alive 60, client id "ecandle-dev-d1".
    const id = Buffer.from('ecandle-dev-d1')
    const varHeader = Buffer.concat([Buffer.from([0, 4]), Buffer.from('MQTT'), Buffer.from([4, 2, 0, 60]), Buffer.from([0, id.length]), id])
    assert.equal(connectClientId(Buffer.concat([Buffer.from([0x10, varHeader.length]), varHeader])), 'ecandle-dev-d1')
    assert.equal(connectClientId(Buffer.from([0x16, 3, 1])), '?')
    assert.equal(connectClientId(Buffer.from([0x10, 200, 0])), '?')
  })

  it('the hub\'s in-process client sees every device; a logged-in device is kept to its own topics', async () => {
    const warnings: Array<{ obj: Record<string, unknown>, msg?: string }> = []
    const broker = await startEmbeddedBroker({ auth: { network: 'n', passwords: new Map([['d1', hashPassword('p1')], ['d2', hashPassword('p2')]]) }, logger: { warn: (obj, msg) => { warnings.push({ obj: obj as Record<string, unknown>, msg }) } } })
    const clients: mqtt.MqttClient[] = []
    try {
      const hub = broker.connectHub({ reconnectPeriod: 0 })
      clients.push(hub)
      await new Promise<void>((resolve, reject) => { hub.once('connect', () => { resolve() }); hub.once('error', reject) })
      const got: string[] = []
      hub.on('message', (topic) => { got.push(topic) })
      await hub.subscribeAsync('ecandle/n/dev/+/up', { qos: 1 })

      await assert.rejects(mqtt.connectAsync(broker.url, { clientId: 'anon', reconnectPeriod: 0 }, false), /Not authorized/)
      const d1 = await mqtt.connectAsync(broker.url, { clientId: 'c-d1', username: 'd1', password: 'p1', reconnectPeriod: 0 }, false)
      clients.push(d1)
      // mqtt.js rejects a SUBACK with any refusal (128) in it: one subscription at a time.
      const grant = async (topic: string): Promise<number> => await d1.subscribeAsync(topic, { qos: 1 }).then(g => g[0].qos, (err: { packet?: { granted?: number[] } }) => err.packet?.granted?.[0] ?? -1)
      assert.deepEqual([await grant('ecandle/n/dev/d1/down'), await grant('ecandle/n/time'), await grant('ecandle/n/dev/d2/down'), await grant('ecandle/n/dev/+/up')], [1, 1, 128, 128], 'only its own down topic and the time')
      await d1.publishAsync('ecandle/n/dev/d1/up', 'mine', { qos: 1 })
      const closed = new Promise<void>(resolve => d1.once('close', () => { resolve() }))
      d1.publish('ecandle/n/dev/d2/up', 'not mine', { qos: 1 })
      await closed
      assert.deepEqual(got, ['ecandle/n/dev/d1/up'])
      assert.deepEqual(broker.stats(), { refusedConnects: 1, deniedPublishes: 1, deniedSubscribes: 2 })
      assert.ok(warnings.some(w => w.obj.clientId === 'anon' && w.msg?.includes('connection refused')))
      assert.ok(warnings.some(w => w.obj.clientId === 'c-d1' && w.obj.topic === 'ecandle/n/dev/d2/up' && w.msg?.includes('publish denied')))
    } finally {
      for (const c of clients) await c.endAsync(true).catch(() => {})
      await broker.close()
    }
  })
})
