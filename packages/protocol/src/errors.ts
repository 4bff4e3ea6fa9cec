/**
 * Errors of the protocol layer. Every decoder and validator throws only these, so callers
 * (gossip adapter, sync, HTTP, bridge) can map them to one answer without guessing.
 * Each validated object declares the union of its codes (`ReportCode`, `EntryCode`, …, listed at
 * run time in `*_CODES` and documented in docs/protocol.md's rule tables); its rules can throw no other.
 */

/** What a gossip validator does with a message that failed a rule (gossipsub semantics). */
export type ValidationAction = 'REJECT' | 'IGNORE'

/** Codes of a decoding failure: every decoder of signed bytes throws a ProtocolError with one of these. */
export const DECODE_CODES = ['size', 'encoding', 'non-canonical', 'shape'] as const
export type DecodeCode = typeof DECODE_CODES[number]

/** Input that is not what the protocol says: wrong encoding, shape, size or value. */
export class ProtocolError<Code extends string = string> extends Error {
  override name = 'ProtocolError'
  constructor (readonly code: Code, message: string) {
    super(message)
  }
}

/**
 * A rule failed while validating gossiped or synced data.
 * REJECT: provably bad (the sender should be penalised). IGNORE: not (yet) useful, e.g. a duplicate or a gap.
 */
export class ValidationError<Code extends string = string> extends ProtocolError<Code> {
  override name = 'ValidationError'
  constructor (readonly action: ValidationAction, code: Code, message: string) {
    super(code, message)
  }
}

export const reject = <Code extends string>(code: Code, message: string): ValidationError<Code> => new ValidationError('REJECT', code, message)
export const ignore = <Code extends string>(code: Code, message: string): ValidationError<Code> => new ValidationError('IGNORE', code, message)

/** The REJECT and IGNORE of one object's rules: the compiler refuses a code outside `Code`. */
export function rules<Code extends string> (): { reject: (code: Code, message: string) => ValidationError<Code>, ignore: (code: Code, message: string) => ValidationError<Code> } {
  return { reject, ignore }
}

/** Whether `err` is a ValidationError with one of `codes` (e.g. `isValidationError(err, REPORT_CODES)`). */
export function isValidationError<Code extends string> (err: unknown, codes: readonly Code[]): err is ValidationError<Code> {
  return err instanceof ValidationError && (codes as readonly string[]).includes(err.code)
}

/** Whether `err` is a decoding failure (a ProtocolError with a DecodeCode). */
export function isDecodeError (err: unknown): err is ProtocolError<DecodeCode> {
  return err instanceof ProtocolError && (DECODE_CODES as readonly string[]).includes(err.code)
}

/** Turns a decoding failure into a REJECT (a decode failure of signed data is provably bad); rethrows anything else. */
export function asReject (err: unknown): ValidationError<DecodeCode> {
  if (!isDecodeError(err)) throw err
  return err instanceof ValidationError ? err : reject(err.code, err.message)
}
