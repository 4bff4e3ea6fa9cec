import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { Duplex, duplexPair } from 'node:stream'
import { createServer as createTlsServer, type TLSSocket } from 'node:tls'
import { Aedes, type Client } from 'aedes'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import type { Logger } from './logger.js'

export interface EmbeddedBroker {
  /** mqtt://host:port, or mqtts:// with TLS */
  url: string
  port: number
  /**
   * An MQTT client of the hub itself, connected in-process (no socket, no credentials): the
   * hub's link sees every device topic; devices only their own.
   */
  connectHub: (opts: IClientOptions) => MqttClient
  /** Connections refused (bad credentials, no TLS, no identity) and publishes/subscribes denied by the ACL. */
  stats: () => BrokerAuthStats
  close: () => Promise<void>
}

export interface BrokerAuthStats { refusedConnects: number, deniedPublishes: number, deniedSubscribes: number }

/**
 * Who may connect to the embedded broker, and over what. With `passwords` or `tls.ca` set, every
 * device must prove a device id: a username that is the id with its password, or a TLS client
 * certificate from `tls.ca` whose subject CN is the id. An identified device may publish only to
 * `ecandle/<net>/dev/<id>/up` and subscribe only to its own `…/down` and `ecandle/<net>/time`.
 * With neither, devices connect anonymously and are not restricted (a broker on loopback only).
 */
export interface BrokerAuth {
  /** The `<net>` topic segment the ACL is about. */
  network: string
  /** Device id → password hash (`hashPassword`). */
  passwords?: ReadonlyMap<string, string>
  /** TLS on the listener; plaintext MQTT is then refused. `ca`: accept client certificates it signed. */
  tls?: { cert: string | Buffer, key: string | Buffer, ca?: string | Buffer }
}

/**
 * An MQTT broker inside the hub process (aedes, MQTT 3.1.1), for a hub whose devices have no
 * other broker to talk to. Binds to loopback unless told otherwise; port 0 picks a free one.
 */
export async function startEmbeddedBroker (opts: { host?: string, port?: number, auth?: BrokerAuth, logger?: Logger } = {}): Promise<EmbeddedBroker> {
  const log = opts.logger ?? {}
  const auth = opts.auth
  const stats: BrokerAuthStats = { refusedConnects: 0, deniedPublishes: 0, deniedSubscribes: 0 }
  /** Streams of the hub's own in-process client: trusted. */
  const hubStreams = new WeakSet<object>()
  /** Streams that came over TLS with a verified client certificate → its CN. */
  const certIds = new WeakMap<object, string>()
  /** Client → the device id it proved. */
  const identity = new WeakMap<Client, string>()
  const required = auth !== undefined && (auth.passwords !== undefined || auth.tls?.ca !== undefined)
  const refuse = (client: Client, username: string | undefined, reason: string): void => {
    stats.refusedConnects++
    log.warn?.({ clientId: client.id, username, remote: remoteOf(client), reason }, 'mqtt broker: connection refused')
  }

  const broker = await Aedes.createBroker({
    authenticate (client, username, password, done) {
      const conn = (client as unknown as { conn: object }).conn
      if (hubStreams.has(conn)) { done(null, true); return }
      if (!required) { done(null, true); return }
      const fail = (code: 4 | 5, reason: string): void => {
        refuse(client, username, reason)
        done(Object.assign(new Error(reason), { returnCode: code }), false)
      }
      const certId = certIds.get(conn)
      if (username !== undefined && username !== '') {
        const hash = auth?.passwords?.get(username)
        if (hash === undefined || password === undefined || !verifyPassword(hash, password)) { fail(4, `bad username or password for ${JSON.stringify(username)}`); return }
        if (certId !== undefined && certId !== username) { fail(5, `username ${username} does not match the client certificate of ${certId}`); return }
        identity.set(client, username)
        done(null, true)
        return
      }
      if (certId !== undefined) { identity.set(client, certId); done(null, true); return }
      fail(5, auth?.tls?.ca !== undefined ? 'no credentials: a username and password, or a client certificate, is required' : 'no credentials: a username and password is required')
    },
    authorizePublish (client, packet, done) {
      if (client === null) { done(null); return } // the broker's own messages
      const id = identity.get(client)
      if (id === undefined || auth === undefined || packet.topic === `ecandle/${auth.network}/dev/${id}/up`) { done(null); return }
      stats.deniedPublishes++
      log.warn?.({ clientId: client.id, device: id, topic: packet.topic }, 'mqtt broker: publish denied (a device may publish only to its own topic)')
      done(new Error(`publish to ${packet.topic} denied`))
    },
    authorizeSubscribe (client, sub, done) {
      const id = identity.get(client)
      if (id === undefined || auth === undefined) { done(null, sub); return }
      if (sub.topic === `ecandle/${auth.network}/dev/${id}/down` || sub.topic === `ecandle/${auth.network}/time`) { done(null, sub); return }
      stats.deniedSubscribes++
      log.warn?.({ clientId: client.id, device: id, topic: sub.topic }, 'mqtt broker: subscription denied')
      done(null, null)
    }
  })

  const tls = auth?.tls
  // TLS connections are injected into a tls.Server, which verifies client certificates against `ca`.
  const tlsServer = tls === undefined
    ? undefined
    : createTlsServer({ cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: tls.ca !== undefined, rejectUnauthorized: false }, (t: TLSSocket) => {
        t.on('error', () => {})
        // A certificate that does not chain to our CA is no identity (the device may still log in by password).
        const cn = t.authorized ? t.getPeerCertificate()?.subject?.CN : undefined
        if (typeof cn === 'string' && cn !== '') certIds.set(t, cn)
        broker.handle(t)
      })
  tlsServer?.on('tlsClientError', (err, t) => {
    stats.refusedConnects++
    const remote = t as unknown as { remoteAddress?: string, remotePort?: number }
    log.warn?.({ remote: `${remote.remoteAddress ?? '?'}:${String(remote.remotePort ?? '?')}`, reason: `TLS: ${err.message}` }, 'mqtt broker: connection refused')
  })
  const server = createServer({ noDelay: true }, (sock: Socket) => {
    sock.on('error', () => {})
    if (tlsServer === undefined) { broker.handle(sock); return }
    // TLS required: peek at the first bytes. A TLS handshake goes on; plaintext MQTT is answered
    // "not authorized" and logged with the client id it carries.
    sock.once('data', (first: Buffer) => {
      sock.pause()
      if (first[0] === 0x16) { tlsServer.emit('connection', replay(sock, first)); return }
      stats.refusedConnects++
      log.warn?.({ clientId: connectClientId(first), remote: `${sock.remoteAddress ?? '?'}:${String(sock.remotePort ?? '?')}`, reason: 'plaintext connection: this broker requires TLS' }, 'mqtt broker: connection refused')
      if (first[0] === 0x10) sock.end(Buffer.from([0x20, 0x02, 0x00, 0x05])) // CONNACK: not authorized
      else sock.destroy()
    })
  })

  const host = opts.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, host, () => { server.off('error', reject); resolve() })
  })
  const port = (server.address() as AddressInfo).port
  return {
    url: `${tlsServer === undefined ? 'mqtt' : 'mqtts'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    connectHub: (clientOpts: IClientOptions) => new mqtt.MqttClient(() => {
      const [ours, theirs] = duplexPair()
      hubStreams.add(theirs)
      broker.handle(theirs)
      return ours
    }, { protocolVersion: 4, ...clientOpts }),
    stats: () => ({ ...stats }),
    close: async () => {
      await new Promise<void>(resolve => { broker.close(() => { resolve() }) })
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  }
}

function remoteOf (client: Client): string | undefined {
  const conn = (client as unknown as { conn?: { remoteAddress?: string, remotePort?: number } }).conn
  return conn?.remoteAddress === undefined ? undefined : `${conn.remoteAddress}:${String(conn.remotePort)}`
}

/** A socket whose first bytes were already read, as a stream that yields them again (for TLSSocket). */
function replay (sock: Socket, first: Buffer): Duplex {
  const d = new Duplex({
    read () { sock.resume() },
    write (chunk: Buffer, _enc, cb) { sock.write(chunk, cb) },
    final (cb) { sock.end(); cb() },
    destroy (err, cb) { sock.destroy(); cb(err) }
  })
  d.push(first)
  sock.on('data', (b: Buffer) => { if (!d.push(b)) sock.pause() })
  sock.once('end', () => { d.push(null) })
  sock.once('close', () => { d.destroy() })
  // For logs: where the connection came from.
  Object.assign(d, { remoteAddress: sock.remoteAddress, remotePort: sock.remotePort })
  return d
}

/** The client id of a plaintext MQTT CONNECT packet (for the refusal log), or '?' . */
export function connectClientId (b: Buffer): string {
  try {
    if (b[0] !== 0x10) return '?'
    let i = 1
    for (let n = 0; n < 4 && (b[i++] & 0x80) !== 0; n++); // remaining length (varint)
    const nameLen = b.readUInt16BE(i)
    i += 2 + nameLen + 1 + 1 + 2 // protocol name, level, flags, keep-alive
    const idLen = b.readUInt16BE(i)
    if (i + 2 + idLen > b.length) return '?'
    return b.subarray(i + 2, i + 2 + idLen).toString('utf8')
  } catch {
    return '?'
  }
}

/**
 * `sha256:<salt hex>:<hash hex>`. The passwords are random 128-bit tokens (`ecandle
 * mqtt-credentials`), so a salted SHA-256 is enough and a reconnect storm of a thousand
 * devices costs no CPU worth naming; a human-chosen password would need a slow hash.
 */
export function hashPassword (password: string, salt: Buffer = randomBytes(16)): string {
  return `sha256:${salt.toString('hex')}:${createHash('sha256').update(salt).update(password).digest('hex')}`
}

export function verifyPassword (stored: string, password: Buffer | string): boolean {
  const [kind, saltHex, hashHex] = stored.split(':')
  if (kind !== 'sha256' || saltHex === undefined || hashHex === undefined || !/^[0-9a-f]{64}$/.test(hashHex)) return false
  const got = createHash('sha256').update(Buffer.from(saltHex, 'hex')).update(password).digest()
  return timingSafeEqual(got, Buffer.from(hashHex, 'hex'))
}
