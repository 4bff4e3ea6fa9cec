import type { Startable } from '@libp2p/interface'

/** A part of the hub with a lifecycle (js-libp2p's Startable), under the name its log lines use. */
export interface Part { name: string, component: Pick<Startable, 'start' | 'stop'> }

export interface LifecycleLogger {
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
}

/**
 * Starts `parts` one after another in the order given; if one fails, stops those already started
 * (in reverse) and rethrows. Returns the parts started, for `stopParts`.
 */
export async function startParts (parts: readonly Part[], log: LifecycleLogger): Promise<Part[]> {
  const started: Part[] = []
  for (const p of parts) {
    try {
      await p.component.start()
    } catch (err) {
      await stopParts(started, log)
      throw err
    }
    started.push(p)
  }
  return started
}

/** Stops `parts` in reverse order; a part that fails to stop is logged and the rest still stop. */
export async function stopParts (parts: readonly Part[], log: LifecycleLogger): Promise<void> {
  for (const p of [...parts].reverse()) {
    try {
      await p.component.stop()
    } catch (err: any) {
      log.warn({ part: p.name, err: String(err?.message ?? err) }, 'stop failed')
    }
  }
}
