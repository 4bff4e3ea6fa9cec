// Small helpers shared by the bench parts.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'

export const sleep = (ms) => new Promise(resolve => setTimeout(resolve, ms))

/** Percentile by nearest rank over a sorted array (Infinity entries count as "never"). */
export function percentile (sorted, p) {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))
  return sorted[i]
}

/** Total size in bytes of the regular files under `dir` (recursive). */
export async function dirBytes (dir) {
  let n = 0
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) n += await dirBytes(p)
    else if (e.isFile()) n += (await stat(p)).size
  }
  return n
}

export function log (msg) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)
}

export const round = (x, d = 0) => (typeof x === 'number' && Number.isFinite(x)) ? Math.round(x * 10 ** d) / 10 ** d : null

/** CPU pressure (PSI "some" avg60, %): how much of the last minute runnable tasks waited for a CPU. */
export function cpuPressure () {
  try {
    return Number(/some avg10=[\d.]+ avg60=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'))?.[1] ?? NaN)
  } catch {
    return null
  }
}

const TICK_MS = 1000 / (Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100)

/** CPU time (user + system, ms) of this process's main thread alone, from /proc (Linux), or NaN. */
export function mainThreadCpuMs () {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) * TICK_MS // fields 14 and 15 of stat(5)
  } catch {
    return NaN
  }
}
