import pino, { type Logger } from 'pino'
import pretty from 'pino-pretty'

/** JSON logs by default (one object per line); a human-readable mode for terminals. */
export function createLogger (level: string, human: boolean): Logger {
  const opts = { level, base: { pid: process.pid }, redact: ['seed', 'token', '*.seed', '*.token'] }
  return human ? pino(opts, pretty({ colorize: process.stdout.isTTY, sync: true })) : pino(opts)
}
