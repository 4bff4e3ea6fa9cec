import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const SCRIPT = fileURLToPath(new URL('../../scripts/test-tools.mjs', import.meta.url))

describe('npm test: system tools', () => {
  it('where the tools are missing and cannot be installed (no apt-get), stops at once with one line naming what to install', () => {
    // A PATH that holds node and nothing else: no socat, no mosquitto, no apt-get, no sudo.
    const bin = mkdtempSync(join(tmpdir(), 'ecandle-path-'))
    try {
      symlinkSync(process.execPath, join(bin, 'node'))
      symlinkSync('/bin/sh', join(bin, 'sh'))
      const r = spawnSync(join(bin, 'node'), [SCRIPT], { env: { PATH: bin }, encoding: 'utf8' })
      assert.equal(r.status, 1, r.stderr)
      const lines = r.stderr.trimEnd().split('\n')
      assert.equal(lines.length, 1, `one line: ${r.stderr}`)
      assert.match(lines[0], /socat.*mosquitto.*apt-get install socat mosquitto/)
      assert.doesNotMatch(r.stderr, /\bat .*:\d+:\d+/, 'no stack trace')
    } finally {
      rmSync(bin, { recursive: true, force: true })
    }
  })

  it('passes quietly where every tool is on PATH', () => {
    const r = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stderr, '')
  })
})
