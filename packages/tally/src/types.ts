/**
 * Types for the epoch reward tally. All money-like quantities (token amounts,
 * summed energy) are `bigint`; per-report inputs are plain `number`s that must
 * be safe integers (anything else makes the report `implausible`).
 */

/** Economic parameters of one epoch. */
export interface TallyParams {
  /** Newly minted tokens for this epoch (smallest unit), >= 0. */
  emissionPerEpoch: bigint
  /** Share of each device reward going to the capex account, in basis points, integer 0..10000. */
  capexBps: number
  /** Maximum energy (mWh) one device can have counted in one epoch, >= 0 (0 = nothing counts). */
  deviceCapMwhPerEpoch: bigint
}

/** Registry entry of a device. */
export interface DeviceInfo {
  id: string
  /** Hub the device is registered to; only reports in this hub's log count. */
  hub: string
  /** Account id (hex string) receiving the capex share. */
  capex: string
  /** Account id (hex string) receiving the opex share. */
  opex: string
  /** Rated output in Wh per day (used for the plausibility bound). */
  ratedWhPerDay: number
  /**
   * Governance (docs/governance.md §7): retired by a decided `device-retire` in force this epoch.
   * Absent: live.
   */
  retired?: boolean
  /**
   * Governance: unix seconds from which the device's registration at `hub` is in force (the start of
   * the epoch its device-add or device-move took effect). A report whose period starts before it
   * counts nothing there. Absent: no bound (genesis devices).
   */
  activeFromS?: number
}

/** One report entry of the epoch's segment, as found in a hub's log. */
export interface SegmentReport {
  hub: string
  /** Log sequence number of the entry in `hub`'s log. */
  seq: number
  /** Position of the report inside that log entry. */
  index: number
  /** Hash of the signed report bytes (hex). */
  reportId: string
  device: string
  /**
   * Device's report counter. Unique per device in its hub's log (chain rule
   * `counter-reused`), not necessarily increasing: a late resend of an older
   * unacknowledged report may be logged after newer ones, even in a later epoch.
   */
  counter: number
  /** Unix seconds. */
  periodStart: number
  /** Unix seconds. */
  periodEnd: number
  energyMwh: number
  solarMwh: number
  litS: number
}

/**
 * State carried from one epoch's tally into the next. There is no per-device
 * counter state: uniqueness of (device, counter) across epochs is guaranteed
 * by log validation (chain rule `counter-reused`), not by the tally.
 */
export interface TallyState {
  /** Last tallied epoch; -1 at genesis. */
  epoch: number
  /** Undistributed remainder carried forward. */
  dust: bigint
  /** account -> total earned over all tallied epochs. */
  cumulative: Map<string, bigint>
}

export interface TallyInput {
  /** Epoch being tallied; must be prev.epoch + 1. */
  epoch: number
  params: TallyParams
  /** Device registry: device id -> info. */
  devices: Map<string, DeviceInfo>
  /** All report entries of the epoch's segment, in any order. */
  segment: SegmentReport[]
  prev: TallyState
  /**
   * "device:counter" keys proven equivocated by evidence. Only reports of this
   * segment are affected; nothing counted in an earlier epoch is clawed back.
   */
  equivocated: Set<string>
}

/** Why a report counted nothing. Listed in precedence order (first match wins). */
export type ReasonCode =
  | 'unregistered'
  | 'equivocated'
  | 'retired'
  | 'wrong-hub'
  | 'not-yet-registered'
  | 'implausible'
  | 'duplicate'
  | 'over-cap'

/** Reason codes in precedence order. */
export const REASON_PRECEDENCE: readonly ReasonCode[] = [
  'unregistered',
  'equivocated',
  'retired',
  'wrong-hub',
  'not-yet-registered',
  'implausible',
  'duplicate',
  'over-cap'
]

export interface ReportStatus {
  hub: string
  seq: number
  index: number
  reportId: string
  device: string
  counter: number
  status: 'counted' | 'rejected'
  /** null when counted. */
  reason: ReasonCode | null
  /** mWh counted from this report (0 when rejected). */
  countedMwh: number
  /** true when the report crossed the device cap and was counted only in part. */
  partial: boolean
}

export interface DeviceRow {
  device: string
  countedMwh: bigint
  reward: bigint
  capex: bigint
  opex: bigint
  capexAccount: string
  opexAccount: string
}

export interface AccountRow {
  account: string
  /** Earned in this epoch (may be 0 for accounts carried from earlier epochs). */
  epochAmount: bigint
  /** prev cumulative + epochAmount. */
  cumulative: bigint
}

export interface TallyTotals {
  countedMwh: bigint
  emission: bigint
  prevDust: bigint
  /** emission + prevDust */
  distributable: bigint
  /** Σ device rewards = Σ account epoch amounts */
  paid: bigint
  /** distributable - paid, carried to the next epoch */
  dust: bigint
}

export interface TallyResult {
  epoch: number
  /** One per segment report, in canonical (hub, seq, index) order. */
  statuses: ReportStatus[]
  /** Devices with countedMwh > 0, sorted by device id. */
  devices: DeviceRow[]
  /** Every account in prev.cumulative or paid (possibly 0) this epoch, sorted by account id. */
  accounts: AccountRow[]
  totals: TallyTotals
  /** Merkle root (lowercase hex) over the sorted leaves. */
  root: string
  next: TallyState
}

/**
 * What the Merkle tree is built from: enough to prove any leaf (a hub keeps these per decided
 * epoch, so it can serve proofs without re-running the tally).
 */
export type TreeParts = Pick<TallyResult, 'epoch' | 'accounts' | 'devices' | 'totals'>

/** A Merkle path step: `hash` is the sibling, `side` tells on which side the sibling sits. */
export interface ProofStep {
  side: 'left' | 'right'
  hash: string
}

export interface LeafProof {
  /** Canonical DAG-CBOR bytes of the leaf. */
  leaf: Uint8Array
  /** From the leaf level up to (excluding) the root. */
  path: ProofStep[]
  /** Root the proof was produced against (informational; verifyProof takes the root to trust). */
  root: string
}

export interface AccountLeaf {
  k: 'a'
  account: string
  epoch: number
  amount: bigint
  cumulative: bigint
}

export interface DeviceLeaf {
  k: 'd'
  device: string
  epoch: number
  mwh: bigint
  reward: bigint
  capex: bigint
  opex: bigint
}

export interface SummaryLeaf {
  k: 's'
  epoch: number
  mwh: bigint
  paid: bigint
  dust: bigint
  emission: bigint
}

export type Leaf = AccountLeaf | DeviceLeaf | SummaryLeaf

export interface Explanation {
  device: string
  /** The device's reward row, or null when nothing was counted. */
  row: DeviceRow | null
  /** The device's reports in canonical order. */
  reports: ReportStatus[]
  /** Count of the device's reports per status/reason. */
  byStatus: Partial<Record<'counted' | ReasonCode, number>>
  /** Human-readable multi-line summary. */
  text: string
}
