// Container image figures (issue 14): size of the hub image docker/Dockerfile builds with podman
// from the local base (../shared/tools/container-base.sh), the base's share of it, and the build
// time with the layer cache as it stands (a first build on a machine takes longer: see bench/README.md).
// The build helpers are the container test's (test/lib/container.ts), so both build the same way.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { baseImage, buildImage } from '../test/dist/lib/container.js'

const log = (msg) => process.stderr.write(`[bench image] ${msg}\n`)
const sizeMb = (image) => Number(spawnSync('podman', ['image', 'inspect', '--format', '{{.Size}}', image], { encoding: 'utf8' }).stdout.trim()) / 1e6

export async function benchImage () {
  if (spawnSync('sh', ['-c', 'command -v podman']).status !== 0 && spawnSync('sh', ['-c', 'command -v apt-get']).status !== 0) return { skipped: 'no podman here (and no apt-get to install it)' }
  let base
  try {
    base = baseImage()
  } catch (err) {
    return { skipped: String(err.message) }
  }
  const dir = mkdtempSync(join(tmpdir(), 'ecandle-bench-image-'))
  try {
    log(`podman build of docker/Dockerfile on ${base}`)
    const b = await buildImage(base, join(dir, 'build.log'), 'localhost/ecandle:bench')
    return { image: b.image, base, sizeMb: b.sizeBytes / 1e6, baseSizeMb: sizeMb(base), buildS: b.seconds }
  } catch (err) {
    return { skipped: String(err.message).split('\n')[0] }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
