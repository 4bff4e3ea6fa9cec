import { PLAUSIBILITY } from '@ecandle/tally'

/**
 * Topic and protocol names. The network id in every name keeps two networks from ever mixing.
 */
export const topics = {
  entries: (net: string): string => `/ecandle/${net}/entries/1`,
  evidence: (net: string): string => `/ecandle/${net}/evidence/1`,
  /** 2: proposals carry values with governance fields (docs/governance.md §6). */
  consensus: (net: string): string => `/ecandle/${net}/consensus/2`,
  /** 2: certificates hold values with governance fields. */
  certificates: (net: string): string => `/ecandle/${net}/certificates/2`,
  /** Signed operations, approvals and resolutions (docs/governance.md §9). */
  governance: (net: string): string => `/ecandle/${net}/governance/1`
}

/** Short name of each gossip topic (`entries`, `evidence`, `consensus`, `certificates`): metric labels, queue names. */
export type TopicName = keyof typeof topics

export const TOPIC_NAMES = Object.keys(topics) as readonly TopicName[]

/** Topic string of a network → its short name. Any other topic (a peer may name any) is not in it. */
export function topicLabels (networkId: string): Record<string, TopicName> {
  return Object.fromEntries(TOPIC_NAMES.map(name => [topics[name](networkId), name]))
}

export const protocols = {
  heads: (net: string): string => `/ecandle/${net}/sync/heads/1`,
  entries: (net: string): string => `/ecandle/${net}/sync/entries/1`,
  certificates: (net: string): string => `/ecandle/${net}/sync/certificates/2`,
  /** Resolutions of a decided epoch, or by id (docs/governance.md §9). */
  governance: (net: string): string => `/ecandle/${net}/sync/governance/1`,
  /** Tally leaves and reward proofs of decided epochs, for light peers. */
  tally: (net: string): string => `/ecandle/${net}/sync/tally/1`,
  /** kad-dht protocol prefix: `${prefix}/kad/1.0.0`. */
  dhtPrefix: (net: string): string => `/ecandle/${net}`
}

/** Bounds on everything that crosses the wire. */
export const limits = {
  /** A signed usage report (payload ≈ 60 B + 64 B signature). */
  maxReportBytes: 256,
  /** Reports in one log entry. */
  maxReportsPerEntry: 256,
  /** A signed log entry: 256 reports × 256 B plus header. */
  maxEntryBytes: 256 * 256 + 1024,
  /** Evidence holds two signed objects. */
  maxEvidenceBytes: 2 * (256 * 256 + 1024) + 256,
  /** One inbound gossipsub RPC (a full entry is ≈ 66 KiB, evidence twice that, a certificate ≤ 256 KiB). */
  maxGossipRpcBytes: 1024 * 1024,
  /** A sync request frame. */
  maxRequestBytes: 1024,
  /** Entries returned by one `entries` sync request. */
  maxEntriesPerRequest: 64,
  /** How far in the future (our clock) an entry's time may be before we ignore it for now. */
  maxClockSkewMs: 30_000,
  /** How far past its entry's time a report's period may end (device clock slack). */
  maxReportSkewS: 120,
  /** A report period longer than this is implausible (the tally's PLAUSIBILITY.maxPeriodS). */
  maxReportPeriodS: PLAUSIBILITY.maxPeriodS,
  /** Plausibility: delivered energy may exceed the rated Wh/day pro rata by at most this factor. */
  plausibilityFactor: PLAUSIBILITY.factor
} as const
