import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Domain, generateSeed, signerFromSeed, verifySignature, type DecodedReport } from '@ecandle/protocol'
import type { BridgeHost, SubmitResult } from '@ecandle/hardware-bridge'
import type { EmulatedDevice } from '../src/emulator.js'

export function tmp (prefix: string): string {
  return mkdtempSync(join(tmpdir(), `ecandle-${prefix}-`))
}

/** Polls a condition every 20 ms (for state with no event of its own); fails after timeoutMs. */
export async function waitFor (what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const start = Date.now()
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

export function makeDevices (n: number, prefix = 'dev', rated = 20): EmulatedDevice[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}`, seed: generateSeed(), ratedWhPerDay: rated }))
}

/**
 * A hub that stores in memory: checks the device signature, answers duplicate for a
 * (device, counter) it has, and counts how often each report was stored (must be once).
 */
export class MemoryHost implements BridgeHost {
  readonly stored = new Map<string, Uint8Array>()
  readonly storedTimes = new Map<string, number>()
  submits = 0
  duplicates = 0
  refusals = 0
  answerOverride?: (bytes: Uint8Array) => SubmitResult | undefined
  private readonly keys = new Map<string, Uint8Array>()
  private readonly waiters: Array<{ n: number, resolve: () => void }> = []

  constructor (devices: EmulatedDevice[]) {
    for (const d of devices) this.keys.set(d.id, signerFromSeed(d.seed).publicKey)
  }

  now = (): number => Date.now()

  submit = async (d: DecodedReport): Promise<SubmitResult> => {
    this.submits++
    const bytes = d.bytes
    const o = this.answerOverride?.(bytes)
    if (o !== undefined) return o
    const key = this.keys.get(d.report.device)
    if (key === undefined) { this.refusals++; return { status: 'refused', reason: 'unregistered-device', message: d.report.device } }
    if (!verifySignature(key, Domain.report, d.payload, d.signature)) { this.refusals++; return { status: 'refused', reason: 'bad-signature', message: '' } }
    const k = `${d.report.device}#${d.report.counter}`
    if (this.stored.has(k)) { this.duplicates++; return { status: 'duplicate' } }
    this.stored.set(k, bytes)
    this.storedTimes.set(k, (this.storedTimes.get(k) ?? 0) + 1)
    for (const w of this.waiters.splice(0)) {
      if (this.stored.size >= w.n) w.resolve()
      else this.waiters.push(w)
    }
    return { status: 'stored' }
  }

  /** Resolves when at least n reports are stored. */
  async storedAtLeast (n: number, timeoutMs = 60_000): Promise<void> {
    if (this.stored.size >= n) return
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => { reject(new Error(`only ${this.stored.size} of ${n} reports stored after ${timeoutMs} ms`)) }, timeoutMs)
      this.waiters.push({ n, resolve: () => { clearTimeout(t); resolve() } })
    })
  }
}

export { freePort, PtyPair, requireTool } from '../src/testing.js'
