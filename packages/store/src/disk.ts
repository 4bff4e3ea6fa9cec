import { statfs } from 'node:fs/promises'

/** Bytes an unprivileged process may still write on the filesystem holding `path`. */
export async function freeDiskBytes (path: string): Promise<number> {
  const s = await statfs(path)
  return Number(s.bavail) * Number(s.bsize)
}
