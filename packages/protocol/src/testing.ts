import { epochOf, parseNetwork, peerIdFromPublicKey, signEntry, signerFromSeed, signReport, toHex, verifyEntry, type EntryLookup, type Network, type Signer, type VerifiedEntry } from './index.js'

/** Test support (exported as @ecandle/protocol/testing): a tiny network: 2 hubs, 2 devices each, fixed keys; genesis at unix 1,700,000,000. */
export const GENESIS = 1_700_000_000
export interface Fixture { net: Network, hubs: Signer[], hubIds: string[], devices: Signer[][] }

export function fixture (): Fixture {
  const seed = (n: number): Uint8Array => new Uint8Array(32).fill(n)
  const hubs = [signerFromSeed(seed(1)), signerFromSeed(seed(2))]
  const hubIds = hubs.map(h => peerIdFromPublicKey(h.publicKey))
  const devices = [[signerFromSeed(seed(11)), signerFromSeed(seed(12))], [signerFromSeed(seed(21)), signerFromSeed(seed(22))]]
  const acct = toHex(signerFromSeed(seed(99)).publicKey)
  const net = parseNetwork({
    name: 'store-test', genesisTime: GENESIS, epochLengthS: 60, gracePeriodS: 5, emissionPerEpoch: '1000', capexBps: 5000, deviceCapMwhPerEpoch: '1000000',
    validators: hubIds.map(peerId => ({ peerId, operator: acct })),
    devices: devices.flatMap((ds, h) => ds.map((d, i) => ({ id: `h${h}-d${i}`, publicKey: toHex(d.publicKey), hub: hubIds[h], capex: acct, opex: acct, ratedWhPerDay: 1000 }))),
    bootstrap: []
  })
  return { net, hubs, hubIds, devices }
}

/** Entry `seq` of hub `h`, one report per device with the given counters, chained to `prev`. */
export function entry (f: Fixture, h: number, seq: number, prev: VerifiedEntry | undefined, counters: number[], lookup?: EntryLookup): VerifiedEntry {
  const time = (GENESIS + 100 + seq) * 1000
  const reports = counters.map((c, i) => signReport(f.devices[h][i % 2], {
    device: `h${h}-d${i % 2}`, counter: c, periodStart: GENESIS + 90 + seq, periodEnd: GENESIS + 100 + seq,
    energyMwh: 10, solarMwh: 20, litS: 5, batteryMv: 3700, soc: 80, tempDeciC: 250, faults: 0
  }))
  const bytes = signEntry(f.net, f.hubs[h], { hub: f.hubIds[h], seq, prev: prev?.id ?? null, epoch: epochOf(f.net, time), time, reports })
  return verifyEntry(f.net, bytes, time, lookup)
}
export * from './gov-testing.js'
