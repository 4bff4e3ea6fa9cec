import fc from 'fast-check'
import { maxFaulty } from '../src/index.js'
import type { ByzMode, ChainConfig, SimConfig } from './sim.js'

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

/** Random chains of epochs for n genesis validators (up to f byzantine among them, more in the pool), with set changes. */
export function chainConfig (n: number, opts: { minByz?: number, modes?: ByzMode[] } = {}): fc.Arbitrary<ChainConfig> {
  const f = maxFaulty(n)
  const pool = 3
  const modes = opts.modes ?? ['silent', 'equivocate', 'invalid']
  return fc.record({
    n: fc.constant(n),
    pool: fc.constant(pool),
    epochs: fc.integer({ min: 3, max: 6 }),
    seed: fc.integer(),
    gst: fc.integer({ min: 0, max: 400 }),
    maxPreGstDelay: fc.integer({ min: 1, max: 300 }),
    dropPct: fc.integer({ min: 0, max: 60 }),
    dupPct: fc.integer({ min: 0, max: 30 }),
    changePct: fc.integer({ min: 30, max: 100 }),
    byzantine: fc.tuple(
      fc.uniqueArray(fc.record({ index: fc.integer({ min: 0, max: n - 1 }), mode: fc.constantFrom(...modes) }), { minLength: opts.minByz ?? 0, maxLength: f, selector: (b) => b.index }),
      // A byzantine hub outside the set that governance may add while the bound allows it.
      fc.option(fc.record({ index: fc.integer({ min: n, max: n + pool - 1 }), mode: fc.constantFrom(...modes) }), { freq: 2 })
    ).map(([inSet, outside]) => (outside === null ? inSet : [...inSet, outside]))
  })
}
