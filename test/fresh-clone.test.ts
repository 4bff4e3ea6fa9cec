import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

interface Run { code: number | null, out: string }
async function run (cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<Run> {
  return await new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (b: Buffer) => { out += b.toString() })
    p.stderr.on('data', (b: Buffer) => { out += b.toString() })
    const timer = setTimeout(() => { p.kill('SIGKILL') }, timeoutMs)
    p.once('error', reject)
    p.once('exit', code => { clearTimeout(timer); resolve({ code, out }) })
  })
}

const git = (args: string[]): string[] => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout.split('\n').filter(l => l !== '')

/**
 * README's first command on a fresh clone: one `npm install`, and the bins work at once (npm links bins
 * before `postinstall` builds dist/, so they must not need dist/ at link time). The clone gets this
 * working tree's uncommitted changes too, so the test checks what is being changed, not only HEAD.
 */
describe('a fresh clone', function () {
  this.timeout(600_000)
  let dir: string

  before(function () {
    if (!existsSync(join(ROOT, '.git'))) this.skip() // an unpacked release, not a checkout: nothing to clone
    dir = mkdtempSync(join(tmpdir(), 'ecandle-clone-'))
    assert.equal(spawnSync('git', ['clone', '--quiet', '--no-hardlinks', ROOT, join(dir, 'repo')]).status, 0, 'git clone')
    for (const f of git(['ls-files', '--modified', '--others', '--exclude-standard'])) {
      if (!existsSync(join(ROOT, f))) continue
      mkdirSync(dirname(join(dir, 'repo', f)), { recursive: true })
      copyFileSync(join(ROOT, f), join(dir, 'repo', f))
    }
    for (const f of git(['ls-files', '--deleted'])) rmSync(join(dir, 'repo', f), { force: true })
  })
  after(() => { if (dir !== undefined) rmSync(dir, { recursive: true, force: true }) })

  it('after one `npm install`, `npx ecandle --help` and `npx ecandle-emulate --help` work, and no install script is left unreviewed', async () => {
    const repo = join(dir, 'repo')
    const install = await run('npm', ['install', '--prefer-offline'], repo, 540_000)
    assert.equal(install.code, 0, `npm install failed:\n${install.out.slice(-3000)}`)
    assert.doesNotMatch(install.out, /not yet covered by allowScripts/, 'package.json allowScripts covers every install script')
    for (const bin of ['ecandle', 'ecandle-emulate']) {
      assert.ok(existsSync(join(repo, 'node_modules', '.bin', bin)), `node_modules/.bin/${bin} is linked by the first install`)
      const help = await run('npx', ['--no-install', bin, '--help'], repo, 60_000)
      assert.equal(help.code, 0, `npx ${bin} --help:\n${help.out}`)
      assert.match(help.out, new RegExp(`^(Usage: )?${bin}\\b`, 'm'), `${bin} --help prints its usage`)
    }
    const node = await run('npx', ['--no-install', 'node', '--version'], repo, 60_000)
    assert.match(node.out, /^v22\./, 'npm scripts and npx run the Node 22 that `npm install` brought')
  })
})
