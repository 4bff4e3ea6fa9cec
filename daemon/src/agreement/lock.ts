/**
 * Runs stateful steps one at a time (messages, timeouts, decisions never interleave). A step's
 * failure goes to its caller; `onError` sees every failure (for steps nobody awaits).
 */
export class Serial {
  private tail: Promise<void> = Promise.resolve()

  constructor (private readonly onError: (err: unknown) => void) {}

  async run<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn)
    this.tail = run.then(() => {}, (err) => { this.onError(err) })
    return await run
  }

  /** Queues a step nobody waits for (its failure reaches onError only). */
  spawn (fn: () => Promise<void>): void {
    this.run(fn).catch(() => {})
  }

  /** Resolves once every step queued so far has run. */
  async idle (): Promise<void> {
    await this.tail
  }
}
