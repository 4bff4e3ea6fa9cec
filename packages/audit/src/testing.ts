/**
 * Test and bench support (exported as @ecandle/audit/testing): a synthetic decided history signed
 * with real keys, and an in-memory AuditSource serving it, so the auditor can be exercised (and
 * timed) without hub processes.
 */
import {
  carriedTally, decodeEntry, decodeReport, encodeCertificate, genesisState as genesisNetworkState, governanceFields, peerIdFromPublicKey, encodeConsensusPayload,
  epochOf, signEntry, signReport, tallyDevicesAt, tallyParamsAt, valueIdOf, verifyResolution, voteDomain, type CutItem, type EpochState, type EpochValue, type Network, type Signer
} from '@ecandle/protocol'
import type { HubNode } from '@ecandle/net'
import {
  certificatesProtocol, decodeProofResponse, encodeProofResponse, entriesProtocol, governanceProtocol, handle, LEAVES_PER_FRAME, tallyProtocol, type ProofResponse, type TallyFrame
} from '@ecandle/wire'
import { buildTree, builderWeights, leafIndex, segmentRows, tally, type SegmentReport, type TallyResult, type TallyState } from '@ecandle/tally'
import type { AuditSource } from './source.js'

export interface HistoryKeys {
  net: Network
  /** Hub signers, in validator order. */
  hubs: Signer[]
  /** Device signers by hub index; device ids are read from the network file. */
  devices: Signer[][]
  /** Signers of hubs and devices that governance adds (devices by id). */
  more?: { hubs?: Signer[], devices?: ReadonlyMap<string, Signer> }
}

export interface History {
  net: Network
  /** Certificate bytes by epoch. */
  certs: Uint8Array[]
  /** Each hub's log: entry bytes, index seq − 1. */
  logs: Map<string, Uint8Array[]>
  results: TallyResult[]
  /** The network state in force during each epoch (and the one after the last). */
  states: EpochState[]
  /** Resolution bytes each epoch's value names. */
  resolutions: Uint8Array[][]
}

/**
 * `epochs` decided epochs; in each, every validator of the epoch logs `reportsPerHub` reports of its
 * live devices of the registry in force (a number for every epoch, or one per epoch; 256 per entry),
 * and the value decides `governance[e]` (resolution bytes). Every validator signs every precommit.
 */
export function buildHistory (k: HistoryKeys, opts: { epochs: number, reportsPerHub: number | number[], governance?: ReadonlyArray<readonly Uint8Array[]>, uncheckedBuilders?: boolean }): History {
  const { net } = k
  const logs = new Map<string, Uint8Array[]>(net.validatorIds.map(h => [h, []]))
  const heads = new Map<string, { seq: number, id: CutItem['id'] }>()
  const counters = new Map<string, number>()
  const certs: Uint8Array[] = []
  const results: TallyResult[] = []
  const states: EpochState[] = [genesisNetworkState(net)]
  const resolutions: Uint8Array[][] = []
  const hubSigner = new Map<string, Signer>([...k.hubs, ...(k.more?.hubs ?? [])].map(s => [peerIdFromPublicKey(s.publicKey), s]))
  const deviceSigner = new Map<string, Signer>()
  net.validatorIds.forEach((hub, h) => net.def.devices.filter(d => d.hub === hub).forEach((d, i) => { if (k.devices[h]?.[i] !== undefined) deviceSigner.set(d.id, k.devices[h][i]) }))
  for (const [id, signer] of k.more?.devices ?? []) deviceSigner.set(id, signer)
  let prevValue: string | null = null
  let state: TallyState = carriedTally(net)
  for (let e = 0; e < opts.epochs; e++) {
    const s = states[e]
    const epochStart = net.def.genesisTime + e * net.def.epochLengthS
    const segment: SegmentReport[] = []
    s.validators.ids.forEach((hub) => {
      const devs = [...s.registry.devices.values()].filter(d => d.hub === hub && d.retired === null).sort((a, b) => a.id < b.id ? -1 : 1)
      if (devs.length === 0) return
      const signers = devs.map(d => deviceSigner.get(d.id)!)
      if (!logs.has(hub)) logs.set(hub, [])
      let left = Array.isArray(opts.reportsPerHub) ? opts.reportsPerHub[e] ?? 0 : opts.reportsPerHub
      for (let n = 0; left > 0; n++) {
        const count = Math.min(256, left)
        left -= count
        const time = (epochStart + 2) * 1000 + n
        const reports: Uint8Array[] = []
        for (let i = 0; i < count; i++) {
          const d = i % devs.length
          const counter = (counters.get(devs[d].id) ?? 0) + 1
          counters.set(devs[d].id, counter)
          reports.push(signReport(signers[d], {
            device: devs[d].id, counter, periodStart: epochStart, periodEnd: epochStart + 1, energyMwh: 1, solarMwh: 2, litS: 1, batteryMv: 3700, soc: 80, tempDeciC: 250, faults: 0
          }))
        }
        const head = heads.get(hub)
        const seq = (head?.seq ?? 0) + 1
        const bytes = signEntry(net, hubSigner.get(hub)!, { hub, seq, prev: head?.id ?? null, epoch: epochOf(net, time), time, reports })
        const dec = decodeEntry(bytes)
        logs.get(hub)!.push(bytes)
        heads.set(hub, { seq, id: dec.id })
        segment.push(...segmentRows(hub, seq, reports.map(decodeReport)))
      }
    })
    const cut: CutItem[] = s.validators.ids.map(hub => ({ hub, seq: heads.get(hub)?.seq ?? 0, id: heads.get(hub)?.id ?? null }))
    const result = tally({ epoch: e, params: tallyParamsAt(s), devices: tallyDevicesAt(net, s), segment, prev: state, equivocated: new Set() })
    const rs = (opts.governance?.[e] ?? []).map(b => verifyResolution(net.id, b))
    // uncheckedBuilders: a colluding quorum that decides a parameter change the builders did not carry (tests).
    const { decided, ...gov } = governanceFields(s, rs, opts.uncheckedBuilders === true ? {} : { weights: builderWeights(state) })
    const value: EpochValue = { epoch: e, prev: prevValue, cut, root: result.root, ...gov }
    const valueId = valueIdOf(value)
    const signatures = s.validators.ids.map((from, i): [number, Uint8Array] => [i, hubSigner.get(from)!.sign(voteDomain(net.id), encodeConsensusPayload({ type: 'precommit', epoch: e, round: 0, from, valueId }))])
    certs.push(encodeCertificate(net, { value, round: 0, signatures }, s.validators))
    results.push(result)
    states.push(decided.next)
    resolutions.push(gov.gov.map(id => rs.find(r => r.id === id)!.bytes))
    state = result.next
    prevValue = valueId
  }
  return { net, certs, logs, results, states, resolutions }
}

/** Serves a History from memory; tests change `history` (or override methods) to play a dishonest peer. */
export class MemorySource implements AuditSource {
  readonly peerId = 'memory'
  constructor (readonly history: History) {}

  async * certificates (from: number): AsyncGenerator<Uint8Array> {
    yield * this.history.certs.slice(from)
  }

  async * entries (hub: string, from: number, to: number): AsyncGenerator<Uint8Array> {
    yield * (this.history.logs.get(hub) ?? []).slice(from - 1, to)
  }

  async proof (epoch: number, account: string): Promise<ProofResponse | undefined> {
    const r = this.history.results[epoch]
    if (r === undefined) return undefined
    const i = leafIndex(r, 'a', account)
    const tree = buildTree(r)
    // Through the wire encoding, as a hub would answer.
    return decodeProofResponse(encodeProofResponse(i === undefined ? { leaf: null, path: [] } : { leaf: tree.leaves[i], path: tree.proof(i) }))
  }

  async leaves (epoch: number): Promise<Uint8Array[]> {
    const r = this.history.results[epoch]
    return r === undefined ? [] : buildTree(r).leaves.slice()
  }

  async resolutions (epoch: number): Promise<Uint8Array[]> {
    return [...(this.history.resolutions[epoch] ?? [])]
  }
}

/**
 * Serves a History over libp2p with the hubs' own protocols and wire formats (certificates,
 * entries, tally), so an AuditPeer can audit it over real TCP.
 */
export async function serveHistory (node: HubNode, history: History): Promise<void> {
  const net = history.net
  const src = new MemorySource(history)
  const opts = { logger: { debug: () => {} }, timeoutMs: 60_000 }
  await handle(node, net.id, certificatesProtocol, (r) => history.certs.slice(r.from, r.from + r.limit), opts)
  await handle(node, net.id, entriesProtocol, (r) => src.entries(r.hub, r.from, r.from + r.limit - 1), opts)
  await handle(node, net.id, tallyProtocol, async function * (r): AsyncGenerator<TallyFrame> {
    if (history.results[r.epoch] === undefined) return
    if (r.account !== null) {
      yield { proof: (await src.proof(r.epoch, r.account))! }
      return
    }
    const leaves = await src.leaves(r.epoch)
    for (let i = 0; i < leaves.length; i += LEAVES_PER_FRAME) yield { leaves: leaves.slice(i, i + LEAVES_PER_FRAME) }
  }, opts)
  await handle(node, net.id, governanceProtocol, (r) => {
    if (r.epoch !== null) return history.resolutions[r.epoch] ?? []
    const all = history.resolutions.flat()
    return r.ids.flatMap(id => all.filter(b => verifyResolution(net.id, b).id === id))
  }, opts)
}
