import fc from 'fast-check'
import { maxFaulty } from '../src/index.js'
import type { ByzMode, SimConfig } from './sim.js'

/** Random simulation configurations for n validators (up to f byzantine). */
export function simConfig (n: number, opts: { minByz?: number, modes?: ByzMode[] } = {}): fc.Arbitrary<SimConfig> {
  const f = maxFaulty(n)
  const modes = opts.modes ?? ['silent', 'equivocate', 'invalid']
  return fc.record({
    n: fc.constant(n),
    epoch: fc.nat(50),
    seed: fc.integer(),
    gst: fc.integer({ min: 0, max: 400 }),
    maxPreGstDelay: fc.integer({ min: 1, max: 300 }),
    dropPct: fc.integer({ min: 0, max: 60 }),
    dupPct: fc.integer({ min: 0, max: 30 }),
    byzantine: fc.uniqueArray(
      fc.record({ index: fc.integer({ min: 0, max: n - 1 }), mode: fc.constantFrom(...modes) }),
      { minLength: opts.minByz ?? 0, maxLength: f, selector: (b) => b.index }
    )
  })
}
