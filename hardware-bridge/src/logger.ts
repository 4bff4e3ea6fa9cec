/** The slice of a pino-style logger the bridge uses: (fields, message). A pino Logger fits. */
export interface Logger {
  debug?: (obj: object, msg?: string) => void
  info?: (obj: object, msg?: string) => void
  warn?: (obj: object, msg?: string) => void
  error?: (obj: object, msg?: string) => void
}
