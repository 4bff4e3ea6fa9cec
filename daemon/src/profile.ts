/**
 * Resource profiles (`"profile"` in config.json, ECANDLE_PROFILE, --profile): only numbers that
 * trade connectivity, throughput and cache hits for memory, as Kubo's `lowpower` does. Every hub
 * of a network may use any profile: nothing here changes what a hub accepts or signs.
 * Measured figures: bench/README.md (`npm run bench`, "Memory").
 */
export type ProfileName = 'default' | 'lowpower'

export const PROFILE_NAMES: readonly ProfileName[] = ['default', 'lowpower']

export interface Profile {
  name: ProfileName
  /** libp2p connection manager (packages/net `connectionLimits`). */
  connections: { maxConnections: number, maxIncomingPendingConnections: number, inboundConnectionThreshold: number }
  /** LevelDB block cache and memtable, bytes (packages/store `Store.open`). */
  leveldb: { cacheSize: number, writeBufferSize: number }
  /** Concurrent sync requests to peers. */
  syncConcurrency: number
  /** Device reports held for the next entry of our log before devices are told 'busy'. */
  hubLogMaxPending: number
  /**
   * V8 and allocator settings, applied once at daemon start by re-executing the same process
   * (`process.execve`: same pid) when they are not in effect yet; see daemon.ts.
   * `heapGrowingPercent`: after each full GC, V8 lets the old generation grow by this much before
   * the next (V8's own factor is up to 300 % where its heap limit is 2 GiB or more: request garbage
   * then piles up as RSS that glibc rarely gives back). Set at start (`v8.setFlagsFromString`: read
   * at every GC, no re-execution needed).
   */
  node: { flags: string[], env: Record<string, string>, heapGrowingPercent: number }
}

export const PROFILES: Record<ProfileName, Profile> = {
  default: {
    name: 'default',
    connections: { maxConnections: 300, maxIncomingPendingConnections: 50, inboundConnectionThreshold: 100 },
    leveldb: { cacheSize: 8 * 1024 * 1024, writeBufferSize: 4 * 1024 * 1024 },
    syncConcurrency: 2,
    hubLogMaxPending: 8192,
    node: { flags: [], env: {}, heapGrowingPercent: 50 }
  },
  lowpower: {
    name: 'lowpower',
    // A community hub needs the other hubs (tens) and a few light peers, not hundreds of peers.
    connections: { maxConnections: 64, maxIncomingPendingConnections: 10, inboundConnectionThreshold: 20 },
    leveldb: { cacheSize: 1024 * 1024, writeBufferSize: 1024 * 1024 },
    syncConcurrency: 1,
    hubLogMaxPending: 4096,
    node: {
      // A small young generation (V8's default grows it to 16 MiB per semi-space), fewer GC and
      // platform threads; code favours size over speed.
      flags: ['--max-semi-space-size=1', '--single-threaded-gc', '--v8-pool-size=1', '--optimize-for-size'],
      // glibc gives each thread its own 64 MiB malloc arena; two are plenty for one event loop.
      // One signature-check worker thread (about 10 MB) instead of one per core.
      env: { MALLOC_ARENA_MAX: '2', UV_THREADPOOL_SIZE: '2', ECANDLE_VERIFY_THREADS: '1' },
      heapGrowingPercent: 50
    }
  }
}

export function profileByName (name: string): Profile | undefined {
  return (PROFILE_NAMES as readonly string[]).includes(name) ? PROFILES[name as ProfileName] : undefined
}
