/**
 * JSON shapes of the hub's local HTTP API (daemon/src/api.ts, hub.ts, agreement/queries.ts), kept
 * here so apps need not depend on the daemon. Ids are strings; amounts are decimal strings in the
 * API (exact at any size) and bigint once verified by this SDK.
 */
import type { UsageReport } from '@ecandle/protocol'

/** A device report inside an entry, as GET /logs and the entries topic decoder give it. */
export type ReportJson = UsageReport & {
  /** Hex sha256 of the signed report bytes. */
  id: string
}

/** A hub log entry (GET /logs/:hub items). */
export interface EntryJson {
  /** CID of the signed entry (`bafyrei…`). */
  id: string
  /** Peer id of the hub whose log this is. */
  hub: string
  seq: number
  /** CID of entry seq − 1; null for seq 1. */
  prev: string | null
  epoch: number
  /** Unix ms, hub clock. */
  time: number
  reports: ReportJson[]
}

/** GET /status. */
export interface HubStatus {
  peerId: string
  /** Network id. */
  network: string
  validator: boolean
  /** Listen multiaddrs, each ending in /p2p/<peerId>. */
  addrs: string[]
  /** Connected peers. */
  peers: number
  /** Log heads this hub holds, by hub peer id. */
  heads: Record<string, { seq: number, id: string }>
  /** Reports stored (all logs). */
  reports: number
  evidence: number
  uptimeS: number
  ingest: Record<string, number>
  sync: Record<string, number>
  /** Gossip validation results: `${topic} ${accept|reject|ignore} ${code}` → count. */
  gossip: Record<string, number>
  log?: Record<string, number>
  devices: number
  deviceLinks?: Record<string, unknown>
  /** Last decided epoch, or null. */
  lastEpoch: number | null
  agreement: Record<string, number>
}

/** GET /peers items. */
export interface PeerInfo {
  peerId: string
  addrs: string[]
  /** True when the peer is a validator of the network. */
  validator: boolean
  direction: 'inbound' | 'outbound'
}

/** GET /devices items: the devices linked to this hub. */
export interface DeviceLinkStatus {
  device: string
  /** serial, mqtt, emulator… */
  link: string
  connected: boolean
  /** Unix ms. */
  lastReportAt?: number
  /** Last counter the hub acknowledged. */
  counter?: number
  batteryMv?: number
  soc?: number
  energyTodayMwh?: number
  errors: number
  lastError?: string
  /** Why the hub last refused one of this device's reports (e.g. `counter-reused`, `clock`). */
  lastRefusal?: string
  lastRefusalCounter?: number
}

/** GET /reports/:device/:counter: where the report is stored. */
export interface ReportLocation {
  device: string
  counter: number
  /** The hub whose log holds it. */
  hub: string
  seq: number
  /** Position in the entry. */
  index: number
}

/** Tally totals of an epoch, decimal strings. */
export interface EpochTotals {
  countedMwh: string
  emission: string
  prevDust: string
  distributable: string
  paid: string
  dust: string
  [k: string]: string
}

export interface CutItemJson {
  hub: string
  /** Last entry of the hub's log in the cut; 0: none yet. */
  seq: number
  /** CID of that entry; null when seq is 0. */
  id: string | null
}

/** A verified certificate, as plain JSON (the certificates topic decoder; the core of an epoch summary). */
export interface CertificateJson {
  epoch: number
  /** Hex sha256 of the decided value. */
  valueId: string
  /** Tally Merkle root the quorum signed: the root to check reward proofs against. */
  root: string
  /** Value id of the previous epoch's decision; null for the first. */
  prev: string | null
  round: number
  /** Peer ids of the validators whose precommit signatures verified (at least a quorum). */
  signers: string[]
  /** Last entry of every hub's log counted up to this epoch, in validator order. */
  cut: CutItemJson[]
}

/** GET /epochs items and GET /epochs/:e. */
export interface EpochSummary extends CertificateJson {
  totals: EpochTotals
  /** The certificate bytes, base64. Verify them; do not trust the other fields alone. */
  certificate: string
}

export interface ProofStepJson { side: 'left' | 'right', hash: string }

/** A Merkle proof as the API serves it. */
export interface RewardProofJson {
  /** Leaf bytes, hex (DAG-CBOR). */
  leaf: string
  path: ProofStepJson[]
  /** The root the hub built it against (informational: verify against the certified root). */
  root: string
}

/** GET /rewards/:account?epoch. */
export interface RewardsJson {
  account: string
  epoch: number
  root: string
  epochAmount: string
  cumulative: string
  /** null when the account has no leaf in that epoch's tally. */
  proof: RewardProofJson | null
}

export type ReasonCode = 'unregistered' | 'equivocated' | 'wrong-hub' | 'implausible' | 'duplicate' | 'over-cap'

export interface ReportStatusJson {
  hub: string
  seq: number
  index: number
  reportId: string
  device: string
  counter: number
  status: 'counted' | 'rejected'
  /** null when counted. */
  reason: ReasonCode | null
  countedMwh: number
  partial: boolean
}

export interface DeviceRowJson {
  device: string
  countedMwh: string
  reward: string
  capex: string
  opex: string
  capexAccount: string
  opexAccount: string
}

/** GET /tally/:e?explain=device. */
export interface Explanation {
  device: string
  /** null when nothing was counted. */
  row: DeviceRowJson | null
  reports: ReportStatusJson[]
  byStatus: Partial<Record<'counted' | ReasonCode, number>>
  /** Human-readable summary. */
  text: string
}

/** POST /admin/partition. */
export interface PartitionResult { blocked: string[] }

/** Error body of every non-2xx answer. */
export interface ApiErrorBody { error: string, message: string }

// ---- GET /events (Server-Sent Events) ----

export interface EntryEvent {
  hub: string
  seq: number
  id: string
  epoch: number
  time: number
  /** Number of reports in the entry. */
  reports: number
  /** When this hub stored it, unix ms (its clock). */
  storedAt: number
  /** `${device}:${counter}` of each report. */
  reportIds: string[]
}

export interface CertificateEvent {
  epoch: number
  valueId: string
  signers: string[]
  countedMwh: string
  paid: string
}

export interface EvidenceEvent {
  id: string
  kind: string
  offender: string
  slot: number
}

export type HubEvent =
  | { type: 'entry', data: EntryEvent }
  | { type: 'certificate', data: CertificateEvent }
  | { type: 'evidence', data: EvidenceEvent }
