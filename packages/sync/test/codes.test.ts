import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { EVIDENCE_RULE_CODES } from '@ecandle/protocol'
import { EVIDENCE_INGEST_CODES, INGEST_CODES } from '../src/index.js'

/**
 * The codes an entry or evidence can fail with are declared unions; docs/protocol.md's rule tables
 * name them. The two must hold the same codes, so a renamed or added code is a documented one.
 */

const doc = readFileSync(new URL('../../../../docs/protocol.md', import.meta.url), 'utf8')

/** The backquoted codes of the last column of every rule table in the section that starts with `heading`. */
function tableCodes (heading: string): Set<string> {
  const start = doc.indexOf(heading)
  assert.ok(start >= 0, `docs/protocol.md has "${heading}"`)
  const end = doc.indexOf('\n## ', start + heading.length)
  const codes = new Set<string>()
  for (const line of doc.slice(start, end < 0 ? undefined : end).split('\n')) {
    if (!line.startsWith('|') || line.startsWith('|---') || line.startsWith('| rule') || line.startsWith('| case')) continue
    // "a half fails its own rules": that half's codes, listed with their own object (examples only here).
    if (line.includes('its own rules')) continue
    const last = line.split('|').at(-2) ?? ''
    for (const m of last.matchAll(/`([a-z-]+)`/g)) codes.add(m[1])
  }
  return codes
}

const sorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort()

describe('validation codes and docs/protocol.md', () => {
  it('§5 names exactly the codes an entry can fail ingest with', () => {
    // `known-seq` never leaves Ingest: an entry at a seq we hold becomes `duplicate` or `equivocation`.
    assert.deepEqual(sorted(tableCodes('## 5. Validation rules')), sorted(INGEST_CODES.filter(c => c !== 'known-seq')))
  })

  it('§6 names the queue and adapter answers, §7 the evidence codes (a failing half keeps its own code)', () => {
    assert.deepEqual(sorted(tableCodes('## 6. Gossip')), ['internal', 'overloaded'])
    assert.deepEqual(sorted(tableCodes('## 7. Evidence')), sorted(EVIDENCE_INGEST_CODES.filter(c => (EVIDENCE_RULE_CODES as readonly string[]).includes(c) || c === 'duplicate' || c === 'store-unavailable')))
  })
})
