import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { closeSync, openSync, writeSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { entry, fixture } from '@ecandle/protocol/testing'
import { Store, StoreError } from '../src/index.js'

/**
 * A full disk, for real: the database lives on a small tmpfs (the test mounts it; it needs root)
 * that a filler file fills up to the last byte, and is freed again.
 */
function mountTmpfs (dir: string, size: string): void {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`this test mounts a tmpfs and needs root (CAP_SYS_ADMIN): mount said ${r.stderr.trim()}`)
}

/** Writes `path` until the filesystem refuses another byte, or until only `leave` bytes are left. */
function fill (path: string, freeNow: () => number, leave = 0): void {
  const fd = openSync(path, 'a')
  try {
    for (const chunk of [1 << 20, 1 << 16, 1 << 12, 1 << 9, 1]) {
      const buf = Buffer.alloc(chunk, 0x5a)
      for (;;) {
        if (leave > 0 && freeNow() - chunk < leave) break
        try { writeSync(fd, buf) } catch (err: any) { if (err.code === 'ENOSPC') break; throw err }
      }
    }
  } finally {
    closeSync(fd)
  }
}

const unavailable = (err: unknown): boolean => err instanceof StoreError && err.code === 'unavailable'

describe('store on a full disk', function () {
  this.timeout(30_000)
  let dir: string
  const open: Store[] = []
  const openStore = async (...a: Parameters<typeof Store.open>): Promise<Store> => { const s = await Store.open(...a); open.push(s); return s }
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ecandle-disk-'))
    mountTmpfs(dir, '6m')
  })
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close().catch(() => {})
    spawnSync('umount', [dir])
    await rm(dir, { recursive: true, force: true })
  })

  it('stops writing below minFreeBytes, keeps reading, and resumes when space returns', async () => {
    const f = fixture()
    const db = join(dir, 'db')
    const states: string[] = []
    const s = await openStore(db, f.net.id, { minFreeBytes: 2 * 1024 * 1024, diskCheckMs: 60_000, onWritable: w => states.push(w.writable ? 'writable' : String(w.reason)) })
    const e1 = entry(f, 0, 1, undefined, [1, 2])
    await s.appendEntry(e1, { sync: true })
    const free = (): number => Number(spawnSync('stat', ['-f', '-c', '%a*%S', dir], { encoding: 'utf8' }).stdout.trim().split('*').reduce((a, b) => a * Number(b), 1))
    fill(join(dir, 'filler'), free, 1024 * 1024)
    await s.checkDisk()
    assert.equal(s.writable.writable, false)
    assert.equal(s.writable.reason, 'disk-full')
    assert.ok((s.writable.freeBytes ?? Infinity) < 2 * 1024 * 1024)
    // Refused before LevelDB sees it: nothing half-written.
    await assert.rejects(s.appendEntry(entry(f, 0, 2, e1, [3]), { sync: true }), unavailable)
    await assert.rejects(s.putRaw(Uint8Array.of(0x7f, 1), Uint8Array.of(1)), unavailable)
    assert.equal(s.head(f.hubIds[0])?.seq, 1)
    assert.deepEqual(await s.findReport('h0-d1', 2), { seq: 1, index: 1 })
    assert.equal((await s.getEntries(f.hubIds[0], 1, 10)).length, 1)

    await rm(join(dir, 'filler'))
    await s.checkDisk()
    assert.equal(s.writable.writable, true)
    await s.appendEntry(entry(f, 0, 2, e1, [3]), { sync: true })
    assert.equal(s.head(f.hubIds[0])?.seq, 2)
    assert.deepEqual(states, ['disk-full', 'writable'])
    await s.close()
  })

  it('a write that fails on a full disk takes the store down until it is reopened with space', async () => {
    const f = fixture()
    const db = join(dir, 'db')
    const s = await openStore(db, f.net.id, { minFreeBytes: 0, diskCheckMs: 60_000 })
    const e1 = entry(f, 0, 1, undefined, [1, 2])
    await s.appendEntry(e1, { sync: true })
    fill(join(dir, 'filler'), () => 0)
    // LevelDB itself hits ENOSPC: the store goes down (reads go on) and refuses every later write.
    const e2 = entry(f, 0, 2, e1, [3, 4])
    let failures = 0
    for (let i = 0; i < 50 && s.writable.writable; i++) {
      // The log may still have room in a page: keep writing until LevelDB refuses.
      await s.putRaw(Uint8Array.of(0x7f, i), new Uint8Array(64 * 1024)).catch(err => { assert.ok(unavailable(err)); failures++ })
    }
    assert.equal(failures, 1, 'one write failed and took the store down')
    assert.equal(s.writable.reason, 'write-failed')
    await assert.rejects(s.appendEntry(e2, { sync: true }), unavailable)
    assert.equal(s.head(f.hubIds[0])?.seq, 1)
    assert.equal((await s.getEntries(f.hubIds[0], 1, 10)).length, 1)
    // Still full: it stays down.
    await s.checkDisk()
    assert.equal(s.writable.writable, false)

    await rm(join(dir, 'filler'))
    await s.checkDisk()
    assert.equal(s.writable.writable, true, JSON.stringify(s.writable))
    await s.appendEntry(e2, { sync: true })
    await s.close()
    // Reopened from disk: both entries, the index and the counters agree.
    const again = await openStore(db, f.net.id)
    assert.equal(again.head(f.hubIds[0])?.seq, 2)
    assert.ok(again.head(f.hubIds[0])?.id.equals(e2.id))
    assert.equal(again.counterOf('h0-d0'), 3)
    assert.equal(again.counterOf('h0-d1'), 4)
    assert.deepEqual(await again.findReport('h0-d0', 3), { seq: 2, index: 0 })
    assert.equal(again.reportCount, 4)
    await again.close()
  })
})
