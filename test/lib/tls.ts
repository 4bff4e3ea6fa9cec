import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { requireTool } from './links.js'

/**
 * Real X.509 material from openssl for TLS tests: a CA, a server certificate for 127.0.0.1, and
 * client certificates whose subject CN names a device. Keys get mode 0600, as the hub demands.
 */
export interface TestPki {
  dir: string
  ca: string
  serverCert: string
  serverKey: string
  /** Client certificate and key of a device (CN = id), made on first use. */
  client: (id: string) => { cert: string, key: string }
}

export function makePki (dir: string): TestPki {
  requireTool('openssl')
  mkdirSync(dir, { recursive: true })
  const p = (f: string): string => join(dir, f)
  const ssl = (...args: string[]): void => { execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] }) }
  const key = (f: string): void => { ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p(f)); chmodSync(p(f), 0o600) }
  key('ca.key')
  ssl('req', '-x509', '-new', '-key', p('ca.key'), '-subj', '/CN=ecandle test CA', '-days', '2', '-out', p('ca.crt'))
  const sign = (name: string, cn: string, ext: string): void => {
    key(`${name}.key`)
    ssl('req', '-new', '-key', p(`${name}.key`), '-subj', `/CN=${cn}`, '-out', p(`${name}.csr`))
    writeFileSync(p(`${name}.ext`), ext)
    ssl('x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', p(`${name}.ext`), '-out', p(`${name}.crt`))
  }
  sign('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
  const made = new Set<string>()
  return {
    dir,
    ca: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    client: (id: string) => {
      if (!made.has(id)) { sign(id, id, 'extendedKeyUsage=clientAuth\n'); made.add(id) }
      return { cert: p(`${id}.crt`), key: p(`${id}.key`) }
    }
  }
}
