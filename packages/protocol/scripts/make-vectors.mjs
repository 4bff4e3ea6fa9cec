#!/usr/bin/env node
// Regenerates vectors/protocol-v1.json from test/vectors-lib.ts (build first: npx tsc -b packages/protocol).
// Only do this for an intentional, documented change of the wire format: the test fails on any difference.
import { writeFileSync } from 'node:fs'
import { buildVectors, VECTORS_FILE } from '../dist/test/vectors-lib.js'

const out = new URL(`../vectors/${VECTORS_FILE}`, import.meta.url)
writeFileSync(out, JSON.stringify(buildVectors(), null, 2) + '\n')
console.log(`wrote ${out.pathname}`)
