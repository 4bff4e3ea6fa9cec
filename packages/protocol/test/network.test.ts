import assert from 'node:assert/strict'
import {
  decodeCanonical, encode, epochOf, epochStartMs, epochVoteAtMs, locationDegrees, networkId, parseNetwork, peerIdFromPublicKey, publicKeyFromPeerId, toHex, ProtocolError,
  type NetworkDefinition
} from '../src/index.js'
import { DEV_A, GENESIS, HUB_A, HUB_B, definition, expectProtocolError, floatsIn, net, signers } from './fixtures.js'

type Def = Record<string, any>
const mutate = (f: (d: Def) => void): Def => {
  const d: Def = JSON.parse(JSON.stringify(definition()))
  f(d)
  return d
}

/** [what is wrong, mutation, the path the message must name] */
const FIELD_ERRORS: Array<[string, (d: Def) => void, string]> = [
  ['unknown top-level field', d => { d.color = 'red' }, 'color: unknown field'],
  ['name missing', d => { delete d.name }, 'name:'],
  ['name empty', d => { d.name = '' }, 'name:'],
  ['name with a slash', d => { d.name = 'a/b' }, 'name:'],
  ['name too long', d => { d.name = 'n'.repeat(65) }, 'name:'],
  ['genesisTime missing', d => { delete d.genesisTime }, 'genesisTime:'],
  ['genesisTime negative', d => { d.genesisTime = -1 }, 'genesisTime:'],
  ['genesisTime fractional', d => { d.genesisTime = 1.5 }, 'genesisTime:'],
  ['genesisTime as string', d => { d.genesisTime = '1735689600' }, 'genesisTime:'],
  ['genesisTime in ms', d => { d.genesisTime = 2 ** 40 + 1 }, 'genesisTime:'],
  ['epochLengthS zero', d => { d.epochLengthS = 0 }, 'epochLengthS:'],
  ['epochLengthS over a year', d => { d.epochLengthS = 366 * 86400 + 1 }, 'epochLengthS:'],
  ['gracePeriodS over a day', d => { d.gracePeriodS = 86401 }, 'gracePeriodS:'],
  ['gracePeriodS missing', d => { delete d.gracePeriodS }, 'gracePeriodS:'],
  ['emissionPerEpoch as number', d => { d.emissionPerEpoch = 1000 }, 'emissionPerEpoch:'],
  ['emissionPerEpoch leading zero', d => { d.emissionPerEpoch = '01' }, 'emissionPerEpoch:'],
  ['emissionPerEpoch negative', d => { d.emissionPerEpoch = '-1' }, 'emissionPerEpoch:'],
  ['emissionPerEpoch 40 digits', d => { d.emissionPerEpoch = '1'.repeat(40) }, 'emissionPerEpoch:'],
  ['capexBps over 10000', d => { d.capexBps = 10001 }, 'capexBps:'],
  ['capexBps negative', d => { d.capexBps = -1 }, 'capexBps:'],
  ['deviceCapMwhPerEpoch hex', d => { d.deviceCapMwhPerEpoch = '0x10' }, 'deviceCapMwhPerEpoch:'],
  ['validators missing', d => { delete d.validators }, 'validators:'],
  ['validators empty', d => { d.validators = [] }, 'validators:'],
  ['validators not an array', d => { d.validators = { 0: d.validators[0] } }, 'validators:'],
  ['validators over 256', d => { d.validators = Array.from({ length: 257 }, () => d.validators[0]) }, 'validators:'],
  ['validator not an object', d => { d.validators[1] = 'hub' }, 'validators[1]:'],
  ['validator null', d => { d.validators[1] = null }, 'validators[1]:'],
  ['validator unknown field', d => { d.validators[0].weight = 2 }, 'validators[0].weight: unknown field'],
  ['validator peerId missing', d => { delete d.validators[1].peerId }, 'validators[1].peerId:'],
  ['validator peerId garbage', d => { d.validators[1].peerId = 'not-a-peer-id!' }, 'validators[1].peerId:'],
  ['validator peerId not Ed25519 (sha256 multihash, a "Qm…" id)', d => { d.validators[1].peerId = 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N' }, 'validators[1].peerId:'],
  ['validator peerId with an extra leading "1"', d => { d.validators[1].peerId = '1' + d.validators[1].peerId }, 'validators[1].peerId:'],
  ['validator operator uppercase hex', d => { d.validators[1].operator = d.validators[1].operator.toUpperCase() }, 'validators[1].operator:'],
  ['validator operator short', d => { d.validators[1].operator = 'ab' }, 'validators[1].operator:'],
  ['validator location latE6 out of range', d => { d.validators[0].location = { latE6: 90_000_001, lonE6: 0 } }, 'validators[0].location.latE6:'],
  ['validator location lonE6 out of range', d => { d.validators[0].location = { latE6: 0, lonE6: -180_000_001 } }, 'validators[0].location.lonE6:'],
  ['validator location latE6 fractional', d => { d.validators[0].location = { latE6: 52_520_000.5, lonE6: 0 } }, 'validators[0].location.latE6:'],
  ['validator location as strings', d => { d.validators[0].location = { latE6: '52520000', lonE6: '13405000' } }, 'validators[0].location.latE6:'],
  ['validator location lonE6 missing', d => { d.validators[0].location = { latE6: 0 } }, 'validators[0].location.lonE6:'],
  ['validator location unknown field', d => { d.validators[0].location.alt = 30 }, 'validators[0].location.alt: unknown field'],
  ['validator location null', d => { d.validators[0].location = null }, 'validators[0].location:'],
  ['validator location an array', d => { d.validators[0].location = [52520000, 13405000] }, 'validators[0].location:'],
  ['validator location in float degrees (the old form)', d => { d.validators[0].location = { lat: 52.52, lon: 13.405 } }, 'validators[0].location: { lat, lon } in degrees is no longer accepted'],
  ['validator location in integer degrees (the old form)', d => { d.validators[0].location = { lat: 6, lon: 3 } }, 'validators[0].location: { lat, lon } in degrees is no longer accepted'],
  ['duplicate validator', d => { d.validators[1].peerId = d.validators[0].peerId }, 'validators[1].peerId: duplicate validator'],
  ['devices missing', d => { delete d.devices }, 'devices:'],
  ['devices not an array', d => { d.devices = 'none' }, 'devices:'],
  ['device not an object', d => { d.devices[0] = 7 }, 'devices[0]:'],
  ['device unknown field', d => { d.devices[1].color = 'blue' }, 'devices[1].color: unknown field'],
  ['device id missing', d => { delete d.devices[0].id }, 'devices[0].id:'],
  ['device id with a space', d => { d.devices[0].id = 'candle 1' }, 'devices[0].id:'],
  ['device id too long', d => { d.devices[0].id = 'c'.repeat(65) }, 'devices[0].id:'],
  ['device publicKey not hex', d => { d.devices[0].publicKey = 'z'.repeat(64) }, 'devices[0].publicKey:'],
  ['device publicKey 31 bytes', d => { d.devices[0].publicKey = 'ab'.repeat(31) }, 'devices[0].publicKey:'],
  ['device hub not a peer id', d => { d.devices[1].hub = 'hub-b' }, 'devices[1].hub:'],
  ['device hub not a validator', d => { d.devices[1].hub = peerIdFromPublicKey(signers.stranger.publicKey) }, 'devices[1].hub: not one of the validators'],
  ['device capex missing', d => { delete d.devices[0].capex }, 'devices[0].capex:'],
  ['device opex uppercase', d => { d.devices[0].opex = d.devices[0].opex.toUpperCase() }, 'devices[0].opex:'],
  ['device ratedWhPerDay zero', d => { d.devices[0].ratedWhPerDay = 0 }, 'devices[0].ratedWhPerDay:'],
  ['device ratedWhPerDay fractional', d => { d.devices[0].ratedWhPerDay = 10.5 }, 'devices[0].ratedWhPerDay:'],
  ['device ratedWhPerDay huge', d => { d.devices[0].ratedWhPerDay = 10_000_001 }, 'devices[0].ratedWhPerDay:'],
  ['duplicate device id', d => { d.devices[1].id = d.devices[0].id }, `devices[1].id: duplicate device id ${DEV_A}`],
  ['bootstrap not an array', d => { d.bootstrap = '/ip4/1.2.3.4/tcp/1' }, 'bootstrap:'],
  ['bootstrap entry not a multiaddr', d => { d.bootstrap[1] = 'example.com:4001' }, 'bootstrap[1]:'],
  ['bootstrap entry with a space', d => { d.bootstrap[0] = '/ip4/1.2.3.4/tcp/1 ' }, 'bootstrap[0]:'],
  ['bootstrap entry not a string', d => { d.bootstrap[0] = 5 }, 'bootstrap[0]:']
]

describe('parseNetwork', () => {
  it('accepts the fixture definition from JSON text and from an object, with the same id', () => {
    const a = parseNetwork(JSON.stringify(definition()))
    const b = parseNetwork(definition())
    assert.equal(a.id, b.id)
    assert.match(a.id, /^[0-9a-f]{32}$/)
    assert.deepEqual(a.validatorIds, [HUB_A, HUB_B])
    assert.equal(a.hubs.get(HUB_B)?.index, 1)
    assert.deepEqual(a.hubs.get(HUB_A)?.publicKey, signers.hubA.publicKey)
    assert.deepEqual(a.devices.get(DEV_A)?.publicKey, signers.deviceA.publicKey)
    assert.deepEqual(a.def, definition())
  })

  it('optional parts: no bootstrap, no devices, no location', () => {
    const d = mutate(d => { delete d.bootstrap; d.devices = []; delete d.validators[0].location })
    const n = parseNetwork(d)
    assert.deepEqual(n.def.bootstrap, [])
    assert.equal(n.devices.size, 0)
  })

  for (const [what, f, path] of FIELD_ERRORS) {
    it(`rejects: ${what} → names ${path.split(':')[0]}`, () => {
      const d = mutate(f)
      for (const input of [d, JSON.stringify(d)]) {
        const e = expectProtocolError(() => parseNetwork(input), 'network')
        assert.ok(e.message.startsWith('network definition: '), e.message)
        assert.ok(e.message.includes(` ${path}`), `message ${JSON.stringify(e.message)} should name ${JSON.stringify(path)}`)
      }
    })
  }

  it('rejects a location with NaN or infinite coordinates (object input)', () => {
    for (const loc of [{ latE6: NaN, lonE6: 0 }, { latE6: 0, lonE6: NaN }, { latE6: Infinity, lonE6: 0 }, { lat: NaN, lon: 0 }]) {
      const d = mutate(() => {})
      d.validators[0].location = loc
      expectProtocolError(() => parseNetwork(d), 'network', 'validators[0].location')
    }
  })

  it('refuses the old float form in one line that names the field and gives the new form with its values', () => {
    const text = JSON.stringify(mutate(d => { d.validators[0].location = { lat: 52.52, lon: 13.405 } }))
    const e = expectProtocolError(() => parseNetwork(text), 'network')
    assert.equal(e.message, 'network definition: validators[0].location: { lat, lon } in degrees is no longer accepted (no floats in the network id); ' +
      'write integer micro-degrees { "latE6": 52520000, "lonE6": 13405000 }')
    assert.ok(!e.message.includes('\n'))
    // Written as told, it is the vector network's location.
    assert.deepEqual(parseNetwork(mutate(d => { d.validators[0].location = { latE6: 52520000, lonE6: 13405000 } })).def, definition())
  })

  it('the network id input holds integers only: a location is encoded as CBOR integers, never floats', () => {
    const { bootstrap: _b, ...rules } = net.def
    const bytes = encode(rules)
    assert.equal(floatsIn(decodeCanonical(bytes, 'id input')), 0)
    assert.ok(toHex(bytes).includes(toHex(encode({ latE6: 52_520_000, lonE6: 13_405_000 }))), 'location as { latE6, lonE6 } integers')
    assert.deepEqual(locationDegrees(net.def.validators[0].location!), { lat: 52.52, lon: 13.405 })
  })

  it('rejects text that is not JSON and roots that are not objects', () => {
    expectProtocolError(() => parseNetwork('{"name":'), 'network', 'not valid JSON')
    expectProtocolError(() => parseNetwork(''), 'network', 'not valid JSON')
    for (const root of ['[]', 'null', '42', '"x"', 'true']) expectProtocolError(() => parseNetwork(root), 'network', '(root)')
    for (const root of [null, undefined, 42, [], true]) expectProtocolError(() => parseNetwork(root), 'network', '(root)')
  })

  describe('network id', () => {
    it('ignores bootstrap and key order, and changes with every rule', () => {
      const base = parseNetwork(definition()).id
      assert.equal(parseNetwork(mutate(d => { d.bootstrap = ['/dns4/example.org/tcp/1'] })).id, base)
      const reordered = Object.fromEntries(Object.entries(definition()).reverse())
      assert.equal(parseNetwork(JSON.stringify(reordered)).id, base)
      const changes: Array<(d: Def) => void> = [
        d => { d.name += 'x' }, d => { d.genesisTime += 1 }, d => { d.epochLengthS += 1 }, d => { d.gracePeriodS += 1 },
        d => { d.emissionPerEpoch = '1000000000001' }, d => { d.capexBps += 1 }, d => { d.deviceCapMwhPerEpoch = '50001' },
        d => { d.validators.reverse() }, d => { d.validators[0].location.latE6 += 1 }, d => { delete d.validators[0].location },
        d => { d.devices[0].ratedWhPerDay += 1 }, d => { d.devices.reverse() }, d => { d.devices.pop() },
        d => { d.devices[0].opex = d.devices[0].capex }
      ]
      const ids = new Set([base])
      for (const c of changes) ids.add(parseNetwork(mutate(c)).id)
      assert.equal(ids.size, changes.length + 1, 'every change gives a new id')
    })

    it('networkId(def) equals parse(def).id and is the committed value of the fixture', () => {
      assert.equal(networkId(definition() as NetworkDefinition), net.id)
      assert.equal(net.id, 'd9e3f9fbf1390871916c61203f8c4409')
    })
  })

  describe('epochs', () => {
    it('epoch boundaries in ms, before genesis is -1', () => {
      assert.equal(epochOf(net, GENESIS * 1000 - 1), -1)
      assert.equal(epochOf(net, GENESIS * 1000), 0)
      assert.equal(epochOf(net, (GENESIS + 3600) * 1000 - 1), 0)
      assert.equal(epochOf(net, (GENESIS + 3600) * 1000), 1)
      assert.equal(epochStartMs(net, 2), (GENESIS + 7200) * 1000)
      assert.equal(epochVoteAtMs(net, 0), (GENESIS + 3600 + 300) * 1000)
    })
  })

  describe('peer ids', () => {
    it('round trip and reject non-Ed25519 ids', () => {
      assert.deepEqual(publicKeyFromPeerId(HUB_A), signers.hubA.publicKey)
      assert.throws(() => publicKeyFromPeerId('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'), ProtocolError)
      assert.throws(() => publicKeyFromPeerId('0OIl'), ProtocolError)
      assert.throws(() => peerIdFromPublicKey(new Uint8Array(31)), ProtocolError)
    })
  })
})
