import { isIP } from 'node:net'

/** 127.0.0.0/8, ::1 and localhost; anything else (0.0.0.0, a LAN address, a name) is not. */
export function isLoopback (host: string): boolean {
  if (host === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  return host === '::1' || host === '[::1]' || /^::ffff:127\./i.test(host)
}
