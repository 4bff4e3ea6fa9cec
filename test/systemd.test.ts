import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { requireTool } from './lib/links.js'
import { BIN } from './lib/testnet.js'

const UNIT = fileURLToPath(new URL('../../deploy/ecandle.service', import.meta.url))

/**
 * deploy/ecandle.service as systemd itself reads it: `systemd-analyze verify` must accept it with
 * no warning, and `systemd-analyze security` must rate it hardened. verify insists that ExecStart's
 * program exists, so the copy checked differs from the shipped file in that path only: it runs
 * this checkout's CLI.
 */
describe('systemd unit deploy/ecandle.service', function () {
  this.timeout(60_000)
  let dir: string | undefined

  before(() => { requireTool('systemd-analyze') })
  after(() => { if (dir !== undefined) rmSync(dir, { recursive: true, force: true }) })

  it('systemd-analyze verify accepts it without a warning; security rates it hardened; the hardening Node needs is there', () => {
    const unit = readFileSync(UNIT, 'utf8')
    const exec = /^ExecStart=(\S+) daemon --data-dir (\S+)$/m.exec(unit)
    assert.ok(exec !== null, 'ExecStart runs `ecandle daemon --data-dir DIR`')
    dir = mkdtempSync(join(tmpdir(), 'ecandle-unit-'))
    const cli = join(dir, 'ecandle')
    writeFileSync(cli, `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`)
    chmodSync(cli, 0o755)
    const copy = join(dir, 'ecandle.service')
    writeFileSync(copy, unit.replace(`ExecStart=${exec[1]} `, `ExecStart=${cli} `))

    const v = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' })
    assert.equal(v.status, 0, `systemd-analyze verify: ${v.stderr}`)
    assert.equal(`${v.stdout}${v.stderr}`.split('\n').filter(l => l.includes('ecandle.service')).join('\n'), '', 'no warnings about the unit')

    // Directives the issue asks for, and the one Node cannot live with.
    for (const d of ['ProtectSystem=strict', 'NoNewPrivileges=true', 'PrivateTmp=true', `ReadWritePaths=${exec[2]}`, 'SupplementaryGroups=dialout', 'Restart=on-failure', 'StandardOutput=journal']) {
      assert.ok(unit.split('\n').includes(d), `the unit sets ${d}`)
    }
    assert.ok(!/^MemoryDenyWriteExecute=(yes|true)/m.test(unit), 'no MemoryDenyWriteExecute: V8 needs W+X pages')

    const s = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', copy], { encoding: 'utf8' })
    const score = /Overall exposure level for ecandle\.service: ([\d.]+)/.exec(`${s.stdout}${s.stderr}`)
    assert.ok(score !== null, `systemd-analyze security: ${s.stderr}`)
    assert.ok(Number(score[1]) <= 3, `exposure ${score[1]} ≤ 3 (systemd calls ≤ 3.9 "OK")`)
    console.log(`      systemd-analyze security: exposure ${score[1]} (0 = fully locked down, 10 = unprotected)`)
  })
})
