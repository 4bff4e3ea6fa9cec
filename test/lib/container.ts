import { spawn, spawnSync } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The hub image, built with podman as CI builds it: `../shared/tools/container-base.sh` (beside
 * the repo) makes podman work on this kind of machine and builds the local Debian + Node 22 base;
 * docker/Dockerfile is built on it with the layer cache, so only changed layers are rebuilt.
 */
export const REPO = resolve(fileURLToPath(new URL('../../..', import.meta.url)))
/** Where shared/ lies beside the repo: `../shared` (a clone, CI), or `../../shared` (a worktree in wt/); ECANDLE_CONTAINER_BASE names it outright. */
const CANDIDATES = [join(dirname(REPO), 'shared', 'tools', 'container-base.sh'), join(dirname(dirname(REPO)), 'shared', 'tools', 'container-base.sh')]
export const BASE_SCRIPT = process.env.ECANDLE_CONTAINER_BASE ?? CANDIDATES.find(p => existsSync(p)) ?? CANDIDATES[0]
export const IMAGE = 'localhost/ecandle:test'

/** One line saying why podman cannot be used here, or undefined. */
function why (what: string, r: { status: number | null, stderr?: string | Buffer, error?: Error }): string {
  const text = String(r.stderr ?? r.error?.message ?? '').trim().split('\n').filter(l => l.trim() !== '').pop() ?? ''
  return `${what} failed (exit ${String(r.status)}): ${text}`
}

/** Makes (or finds) the base image; returns its name. Throws one line when it cannot. */
export function baseImage (): string {
  if (!existsSync(BASE_SCRIPT)) throw new Error(`the container test needs ${BASE_SCRIPT} (shared/tools beside the repo: it makes podman work here and builds the base image)`)
  const r = spawnSync('bash', [BASE_SCRIPT], { encoding: 'utf8', timeout: 15 * 60_000 })
  if (r.status !== 0) throw new Error(why(`bash ${BASE_SCRIPT}`, r))
  const name = r.stdout.trim().split('\n').pop() ?? ''
  if (name === '') throw new Error(`${BASE_SCRIPT} printed no image name`)
  return name
}

export interface Built { image: string, seconds: number, sizeBytes: number, log: string }

/** podman build of docker/Dockerfile on `base` (docker format: OCI would drop HEALTHCHECK). */
export async function buildImage (base: string, log: string, image = IMAGE): Promise<Built> {
  const t0 = Date.now()
  const fd = openSync(log, 'w')
  const p = spawn('podman', ['build', '--format', 'docker', '--layers', '--build-arg', `BASE=${base}`, '-f', 'docker/Dockerfile', '-t', image, '.'], { cwd: REPO, stdio: ['ignore', fd, fd] })
  closeSync(fd)
  const code = await new Promise<number | null>(resolve => p.once('exit', resolve))
  if (code !== 0) {
    const tail = readFileSync(log, 'utf8').trim().split('\n').slice(-15).join('\n')
    throw new Error(`podman build of docker/Dockerfile failed (exit ${String(code)}); last lines of ${log}:\n${tail}`)
  }
  const seconds = (Date.now() - t0) / 1000
  // Layers of earlier builds that no tag or cache of this one uses pile up run after run.
  spawnSync('podman', ['image', 'prune', '-f', '--filter', 'until=2h'], { stdio: 'ignore' })
  const size = spawnSync('podman', ['image', 'inspect', '--format', '{{.Size}}', image], { encoding: 'utf8' })
  return { image, seconds, sizeBytes: Number(size.stdout.trim()), log }
}

/** Runs podman; returns stdout, or throws one line naming the command and its error. */
export function podman (args: string[], opts: { timeoutMs?: number } = {}): string {
  const r = spawnSync('podman', args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000 })
  if (r.status !== 0) throw new Error(why(`podman ${args.join(' ')}`, r))
  return r.stdout
}
