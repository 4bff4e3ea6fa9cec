/**
 * Errors of the protocol layer. Every decoder and validator throws only these, so callers
 * (gossip adapter, sync, HTTP, bridge) can map them to one answer without guessing.
 */

/** What a gossip validator does with a message that failed a rule (gossipsub semantics). */
export type ValidationAction = 'REJECT' | 'IGNORE'

/** Input that is not what the protocol says: wrong encoding, shape, size or value. */
export class ProtocolError extends Error {
  override name = 'ProtocolError'
  constructor (readonly code: string, message: string) {
    super(message)
  }
}

/**
 * A rule failed while validating gossiped or synced data.
 * REJECT: provably bad (the sender should be penalised). IGNORE: not (yet) useful, e.g. a duplicate or a gap.
 */
export class ValidationError extends ProtocolError {
  override name = 'ValidationError'
  constructor (readonly action: ValidationAction, code: string, message: string) {
    super(code, message)
  }
}

export const reject = (code: string, message: string): ValidationError => new ValidationError('REJECT', code, message)
export const ignore = (code: string, message: string): ValidationError => new ValidationError('IGNORE', code, message)

/** Turns any ProtocolError into a REJECT (a decode failure of signed data is provably bad). */
export function asReject (err: unknown): ValidationError {
  if (err instanceof ValidationError) return err
  if (err instanceof ProtocolError) return reject(err.code, err.message)
  throw err
}
