#!/usr/bin/env node
// Regenerates vectors/protocol-v1.json from test/vectors-lib.ts and vectors/governance-v1.json from
// test/gov-vectors-lib.ts (build first: npx tsc -b packages/protocol).
// Only do this for an intentional, documented change of the wire format: the tests fail on any difference.
import { writeFileSync } from 'node:fs'
import { buildVectors, VECTORS_FILE } from '../dist/test/vectors-lib.js'
import { buildGovernanceVectors, GOV_VECTORS_FILE } from '../dist/test/gov-vectors-lib.js'

for (const [file, build] of [[VECTORS_FILE, buildVectors], [GOV_VECTORS_FILE, buildGovernanceVectors]]) {
  const out = new URL(`../vectors/${file}`, import.meta.url)
  writeFileSync(out, JSON.stringify(build(), null, 2) + '\n')
  console.log(`wrote ${out.pathname}`)
}
