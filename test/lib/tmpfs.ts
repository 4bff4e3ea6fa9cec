import { spawnSync } from 'node:child_process'
import { closeSync, mkdirSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs'
import { join } from 'node:path'

/**
 * A small tmpfs the test mounts itself (root only: CAP_SYS_ADMIN), to be a full disk for real: a
 * filler file takes its space down to the last byte, and is removed to free it.
 */
export class Tmpfs {
  readonly filler: string
  private mounted = false

  constructor (readonly dir: string, readonly size: string) {
    this.filler = join(dir, 'filler.bin')
  }

  mount (): void {
    mkdirSync(this.dir, { recursive: true })
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${this.size},mode=0700`, 'tmpfs', this.dir], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`this test mounts a tmpfs at ${this.dir} and needs root (CAP_SYS_ADMIN): mount said ${r.stderr.trim() || String(r.error)}`)
    this.mounted = true
  }

  /** Free bytes on it now. */
  free (): number {
    const s = statfsSync(this.dir)
    return Number(s.bavail) * Number(s.bsize)
  }

  /** Fills it until the filesystem refuses another byte (or only `leave` bytes are left). */
  fill (leave = 0): void {
    const fd = openSync(this.filler, 'a')
    try {
      for (const chunk of [1 << 20, 1 << 16, 1 << 12, 1 << 9, 1]) {
        const buf = Buffer.alloc(chunk, 0x5a)
        for (;;) {
          if (leave > 0 && this.free() - chunk < leave) break
          try { writeSync(fd, buf) } catch (err: any) { if (err.code === 'ENOSPC') break; throw err }
        }
      }
    } finally {
      closeSync(fd)
    }
  }

  /** Removes the filler: the space is back. */
  release (): void {
    rmSync(this.filler, { force: true })
  }

  unmount (): void {
    if (!this.mounted) return
    const r = spawnSync('umount', [this.dir], { encoding: 'utf8' })
    if (r.status !== 0) spawnSync('umount', ['-l', this.dir])
    this.mounted = false
  }
}
