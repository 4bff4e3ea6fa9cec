import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  decideGovernance, GovernanceError, genesisState, peerIdFromPublicKey, selectResolutions, signerFromSeed, toHex, verifyOperation, verifyResolution,
  ValidationError, type EpochState, type Signer, type VerifiedResolution
} from '../src/index.js'
import { deviceAddOp, govFixture, op, resolution } from '../src/testing.js'

const f = govFixture({ hubs: 5 })
const keys = Array.from({ length: 12 }, (_, i) => signerFromSeed(new Uint8Array(32).fill(0x70 + i)))
const accounts: Signer[] = [f.capex, f.opex, f.capex2, f.opex2]

/** One random operation against state `s`, signed as it needs, possibly wrong (bad holder, too few approvals). */
const opArb = fc.record({
  kind: fc.constantFrom('add', 'add', 'transfer', 'move', 'retire', 'hub-add', 'hub-remove', 'params'),
  a: fc.nat(100), b: fc.nat(100), c: fc.nat(100), approvers: fc.integer({ min: 2, max: 6 }), exp: fc.integer({ min: 0, max: 6 })
})
type OpSpec = typeof opArb extends fc.Arbitrary<infer T> ? T : never

/** A resolution, or undefined when the random choice makes an operation no peer would even gossip (a move to its own hub, a transfer to its holder). */
function make (s: EpochState, x: OpSpec): VerifiedResolution | undefined {
  try {
    return build(s, x)
  } catch (err) {
    if (err instanceof ValidationError && err.code === 'op-noop') return undefined
    throw err
  }
}

function build (s: EpochState, x: OpSpec): VerifiedResolution {
  const exp = s.epoch + x.exp
  const devices = [...s.registry.devices.values()]
  const d = devices[x.a % devices.length]
  const hubs = s.next.list
  const signerOfHub = (peer: string): Signer => [...f.hubs, ...f.spareHubs].find(h => peerIdFromPublicKey(h.publicKey) === peer)!
  const opOfHub = (peer: string): Signer => [...f.operators, ...f.spareOperators].find(o => toHex(o.publicKey) === s.hubs.get(peer)?.operator) ?? f.stranger
  const validators = s.validators.ids.slice(0, x.approvers).map(signerOfHub)
  let bytes: Uint8Array
  let approvals: Signer[] = []
  switch (x.kind) {
    case 'add': {
      const hub = hubs[x.b % hubs.length].peerId
      bytes = deviceAddOp(f, { id: `r${x.a}`, key: keys[x.c % keys.length], hub: f.hubIds.indexOf(hub) >= 0 ? f.hubIds.indexOf(hub) : 5 + f.spareHubs.findIndex(h => peerIdFromPublicKey(h.publicKey) === hub), exp })
      break
    }
    case 'transfer': {
      const from = accounts.find(a => toHex(a.publicKey) === d.capex) ?? f.capex
      const to = accounts[x.b % accounts.length]
      bytes = op(f, { type: 'device-transfer', exp, device: d.id, role: 'capex', from: from.publicKey, to: to.publicKey }, { from, to })
      break
    }
    case 'move': {
      const to = hubs[x.b % hubs.length].peerId
      const fromOp = s.next.byId.has(d.hub) ? opOfHub(d.hub) : null
      const opex = accounts.find(a => toHex(a.publicKey) === d.opex) ?? f.opex
      bytes = op(f, { type: 'device-move', exp, device: d.id, from: d.hub, to, opex: opex.publicKey, fromOperator: fromOp?.publicKey ?? null, toOperator: opOfHub(to).publicKey },
        { opex, ...(fromOp === null ? {} : { fromOperator: fromOp }), toOperator: opOfHub(to) })
      break
    }
    case 'retire': {
      const capex = accounts.find(a => toHex(a.publicKey) === d.capex) ?? f.capex
      const opex = accounts.find(a => toHex(a.publicKey) === d.opex) ?? f.opex
      bytes = op(f, { type: 'device-retire', exp, device: d.id, capex: capex.publicKey, opex: opex.publicKey }, { capex, opex })
      break
    }
    case 'hub-add': {
      const i = x.b % f.spareHubs.length
      bytes = op(f, { type: 'hub-add', exp, hub: peerIdFromPublicKey(f.spareHubs[i].publicKey), operator: f.spareOperators[i].publicKey }, { hub: f.spareHubs[i], operator: f.spareOperators[i] })
      approvals = validators
      break
    }
    case 'hub-remove':
      bytes = op(f, { type: 'hub-remove', exp, hub: hubs[x.b % hubs.length].peerId }, {})
      approvals = validators
      break
    default:
      bytes = op(f, { type: 'params', exp, set: { capexBps: x.c * 100, gracePeriodS: x.b } }, {})
      approvals = validators
  }
  return verifyResolution(f.net.id, resolution(f, bytes, verifyOperation(f.net.id, bytes).id, approvals))
}

describe('governance state machine: properties over random operation pools', function () {
  this.timeout(120_000)

  it('what a proposer selects is always a valid value, in any pool order; the next state does not depend on the order; the rules hold after every epoch', () => {
    fc.assert(fc.property(fc.array(fc.array(opArb, { maxLength: 8 }), { minLength: 4, maxLength: 8 }), fc.boolean(), (epochs, reverse) => {
      let s = genesisState(f.net)
      const decided: VerifiedResolution[] = []
      for (const specs of epochs) {
        const pool = specs.map(x => make(s, x)).filter((r): r is VerifiedResolution => r !== undefined)
        const chosen = selectResolutions(s, reverse ? [...pool].reverse() : pool, { weights: { weightOf: () => 0n, total: 0n } })
        assert.deepEqual(chosen.map(r => r.id), selectResolutions(s, pool, { weights: { weightOf: () => 0n, total: 0n } }).map(r => r.id))
        const d = decideGovernance(s, chosen)
        assert.equal(decideGovernance(s, [...chosen].reverse()).next.hash, d.next.hash)
        // Every resolution left out fails a rule on its own, or conflicts with / exceeds the bound together with what was chosen.
        for (const r of pool) {
          if (chosen.includes(r)) continue
          assert.throws(() => decideGovernance(s, [...chosen, r]), GovernanceError)
        }
        // Replay: nothing decided before acts again.
        for (const r of decided) assert.throws(() => decideGovernance(s, [r]), GovernanceError)
        decided.push(...chosen)
        const next = d.next
        // The set changes by less than a third, never below four; V(E+1) of S(E+1) is V(E+2)'s predecessor.
        const before = new Set(next.validators.ids)
        const after = new Set(next.next.ids)
        const changed = [...after].filter(x => !before.has(x)).length + [...before].filter(x => !after.has(x)).length
        assert.ok(changed === 0 || 3 * changed < before.size, `${changed} changes of ${before.size}`)
        assert.ok(after.size >= 4)
        assert.equal(next.validators.hash, s.next.hash)
        // One key, one device.
        assert.equal(next.registry.keys.size, next.registry.devices.size)
        // The replay set holds exactly what is decided and not yet expired.
        for (const [, exp] of next.recent) assert.ok(exp >= next.epoch)
        s = next
      }
    }), { numRuns: 60 })
  })
})
