import { createServer, type AddressInfo } from 'node:net'
import { Aedes } from 'aedes'

export interface EmbeddedBroker {
  /** mqtt://host:port */
  url: string
  port: number
  close: () => Promise<void>
}

/**
 * An MQTT broker inside the hub process (aedes, MQTT 3.1.1), for a hub whose devices have no
 * other broker to talk to. Binds to loopback unless told otherwise; port 0 picks a free one.
 */
export async function startEmbeddedBroker (opts: { host?: string, port?: number } = {}): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker()
  const server = createServer({ noDelay: true }, broker.handle)
  const host = opts.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, host, () => { server.off('error', reject); resolve() })
  })
  const port = (server.address() as AddressInfo).port
  return {
    url: `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: async () => {
      await new Promise<void>(resolve => { broker.close(() => { resolve() }) })
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  }
}
