/**
 * Test and bench support (exported as @ecandle/audit/testing): a synthetic decided history signed
 * with real keys, and an in-memory AuditSource serving it, so the auditor can be exercised (and
 * timed) without hub processes.
 */
import {
  decodeEntry, decodeReport, encodeCertificate, encodeConsensusPayload, epochOf, signEntry, signReport, valueIdOf, voteDomain, type CutItem, type EpochValue, type Network, type Signer
} from '@ecandle/protocol'
import type { HubNode } from '@ecandle/net'
import {
  certificatesProtocol, decodeProofResponse, encodeProofResponse, entriesProtocol, handle, LEAVES_PER_FRAME, tallyProtocol, type ProofResponse, type TallyFrame
} from '@ecandle/wire'
import { buildTree, genesisState, leafIndex, segmentRows, tally, tallyDevices, tallyParams, type SegmentReport, type TallyResult } from '@ecandle/tally'
import type { AuditSource } from './source.js'

export interface HistoryKeys {
  net: Network
  /** Hub signers, in validator order. */
  hubs: Signer[]
  /** Device signers by hub index; device ids are read from the network file. */
  devices: Signer[][]
}

export interface History {
  net: Network
  /** Certificate bytes by epoch. */
  certs: Uint8Array[]
  /** Each hub's log: entry bytes, index seq − 1. */
  logs: Map<string, Uint8Array[]>
  results: TallyResult[]
}

/**
 * `epochs` decided epochs; in each, every hub logs `reportsPerHub` reports of its devices (a number
 * for every epoch, or one per epoch; 256 per entry). Every hub signs every precommit.
 */
export function buildHistory (k: HistoryKeys, opts: { epochs: number, reportsPerHub: number | number[] }): History {
  const { net } = k
  const logs = new Map<string, Uint8Array[]>(net.validatorIds.map(h => [h, []]))
  const heads = new Map<string, { seq: number, id: CutItem['id'] }>()
  const counters = new Map<string, number>()
  const certs: Uint8Array[] = []
  const results: TallyResult[] = []
  let prevValue: string | null = null
  let state = { ...genesisState(), epoch: -1 }
  for (let e = 0; e < opts.epochs; e++) {
    const epochStart = net.def.genesisTime + e * net.def.epochLengthS
    const segment: SegmentReport[] = []
    net.validatorIds.forEach((hub, h) => {
      const devs = net.def.devices.filter(d => d.hub === hub)
      const signers = k.devices[h]
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
        const bytes = signEntry(net, k.hubs[h], { hub, seq, prev: head?.id ?? null, epoch: epochOf(net, time), time, reports })
        const dec = decodeEntry(bytes)
        logs.get(hub)!.push(bytes)
        heads.set(hub, { seq, id: dec.id })
        segment.push(...segmentRows(hub, seq, reports.map(decodeReport)))
      }
    })
    const cut: CutItem[] = net.validatorIds.map(hub => ({ hub, seq: heads.get(hub)?.seq ?? 0, id: heads.get(hub)?.id ?? null }))
    const result = tally({ epoch: e, params: tallyParams(net), devices: tallyDevices(net), segment, prev: state, equivocated: new Set() })
    const value: EpochValue = { epoch: e, prev: prevValue, cut, root: result.root }
    const valueId = valueIdOf(value)
    const signatures = k.hubs.map((s, i): [number, Uint8Array] => [i, s.sign(voteDomain(net.id), encodeConsensusPayload({ type: 'precommit', epoch: e, round: 0, from: net.validatorIds[i], valueId }))])
    certs.push(encodeCertificate(net, { value, round: 0, signatures }))
    results.push(result)
    state = result.next
    prevValue = valueId
  }
  return { net, certs, logs, results }
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
}
