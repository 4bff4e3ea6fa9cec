import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { DEVICE_ID_RE, EVIDENCE_KINDS, REFUSAL_REASONS, type NetworkDefinition } from '@ecandle/protocol'
import { REASON_PRECEDENCE } from '@ecandle/tally'

/**
 * The JSON shapes of the hub's local HTTP API, written once as JSON Schema (TypeBox). The daemon's
 * fastify routes validate input and serialise every answer with them, @fastify/swagger serves them
 * at /docs/json, and the types below are derived from them (the SDK's HubClient returns these).
 * Ids are strings; amounts are decimal strings (exact at any size).
 */

const PEER_ID = '^[1-9A-HJ-NP-Za-km-z]{32,128}$'
const HEX64 = '^[0-9a-f]{64}$'

const Nullable = <T extends TSchema>(t: T, description?: string) => Type.Union([t, Type.Null()], description === undefined ? {} : { description })

/** A string of one of `values` (JSON Schema `enum`), typed as their union. */
const StringEnum = <const T extends readonly string[]>(values: T, description?: string) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...(description === undefined ? {} : { description }) })

/** Big integers (mWh, token units) travel as decimal strings. */
const Decimal = (description: string) => Type.String({ pattern: '^[0-9]+$', description })

const Counts = (description: string) => Type.Record(Type.String(), Type.Number(), { description })

// ---- reach (GET /status `reach`, GET /peers `connection`; docs/networking.md) ----

/** How a connection to a peer runs: a public address, a hole punch, a relay, or the LAN (or loopback). */
export const PEER_CONNECTION_KINDS = ['direct', 'hole-punched', 'relayed', 'lan'] as const
export type PeerConnectionKind = typeof PEER_CONNECTION_KINDS[number]

/**
 * How the hub is reached: `public` (a verified public address), `hole-punched` (not public, but
 * direct connections made by hole punching), `relayed` (through a relay slot), `lan` (peers on the
 * LAN only), `outbound-only` (connected out, nobody can dial in), `isolated` (no peers).
 */
export const REACHABILITY = ['public', 'hole-punched', 'relayed', 'lan', 'outbound-only', 'isolated'] as const
export type Reachability = typeof REACHABILITY[number]

export const ReachStatus = Type.Object({
  state: StringEnum(REACHABILITY, 'How this hub is reached: ' + REACHABILITY.join(', ')),
  publicAddrs: Type.Array(Type.String(), { description: 'Verified public addresses (AutoNAT, UPnP, announce)' }),
  relays: Type.Array(Type.String(), { description: 'Peer ids of the relays this hub holds a slot on' }),
  relayServer: Type.Object({ running: Type.Boolean(), reservations: Type.Integer() }, { description: 'This hub\'s relay server (public hubs): running, and slots held for others' }),
  nat: StringEnum(['none', 'port-preserving', 'port-changing', 'unknown'], 'The NAT in front: port-preserving allows hole punching, port-changing does not'),
  holePunches: Type.Integer({ description: 'Direct connections made by hole punching since start' }),
  peers: Type.Object({ direct: Type.Integer(), 'hole-punched': Type.Integer(), relayed: Type.Integer(), lan: Type.Integer() }, { description: 'Connected peers by how they are connected' }),
  warnings: Type.Array(Type.String(), { description: 'What an operator should look at: no-peers, all-peers-relayed' }),
  upnp: Type.Boolean({ description: 'UPnP port mapping asked for (reach.upnp)' }),
  mdns: Type.Boolean({ description: 'LAN discovery by mDNS (reach.mdns)' })
}, { description: 'How this hub is reached' })
export type ReachStatus = Static<typeof ReachStatus>

// ---- hub ----

export const HubStatus = Type.Object({
  peerId: Type.String(),
  network: Type.String({ description: 'Network id' }),
  validator: Type.Boolean({ description: 'Whether this hub is a validator (has a log) of the network' }),
  addrs: Type.Array(Type.String(), { description: 'libp2p listen multiaddrs, each ending in /p2p/<peerId>' }),
  peers: Type.Integer({ description: 'Connected libp2p peers' }),
  heads: Type.Record(Type.String(), Type.Object({ seq: Type.Integer(), id: Type.String() }), { description: 'Per hub (peer id): the last entry of its log held here' }),
  reports: Type.Integer({ description: 'Device reports stored (all logs)' }),
  evidence: Type.Integer({ description: 'Equivocation evidence stored since start' }),
  uptimeS: Type.Integer(),
  ingest: Counts('Entry ingest counters: appended, duplicate, pending (bytes), evidence'),
  sync: Counts('Sync counters: rounds, fetched, errors, served'),
  gossip: Counts('Gossip validation results: "<topic> <accept|reject|ignore> <code>" → count'),
  log: Type.Optional(Counts('This hub\'s own log (validators): stored, duplicate, refused, busy, entries')),
  devices: Type.Integer({ description: 'Devices known to this hub\'s links' }),
  deviceLinks: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Counters of each device link (emulator, serial, mqtt), by link name' })),
  lastEpoch: Nullable(Type.Integer(), 'Last decided epoch, or null'),
  agreement: Counts('Agreement counters: decided, adopted, proposals, invalid, evidence, abstained (epochs this validator signed nothing in), guardWrites (vote guard file writes)'),
  reach: ReachStatus,
  storage: Type.Optional(Type.Object({
    writable: Type.Boolean(),
    reason: Type.Optional(StringEnum(['disk-full', 'write-failed'], '`disk-full`: free space below the hub\'s minFreeDiskBytes; `write-failed`: a database write failed')),
    message: Type.Optional(Type.String()),
    freeBytes: Type.Optional(Type.Integer({ minimum: 0, description: 'Free bytes on the data disk at the last check' }))
  }, { description: 'Whether the database takes writes. While not (data disk full, or a write failed) the hub acknowledges no report and stores nothing new, keeps serving reads, and resumes by itself when space returns' }))
}, { description: 'Hub status' })
export type HubStatus = Static<typeof HubStatus>

export const PeerInfo = Type.Object({
  peerId: Type.String(),
  addrs: Type.Array(Type.String(), { description: 'Remote multiaddrs of the open connections to this peer' }),
  validator: Type.Boolean({ description: 'Whether this hub treats the peer as a validator of this network (in V(E) or V(E+1) of the newest state it follows: always let in, never pruned for a stranger, kept connected)' }),
  direction: StringEnum(['inbound', 'outbound'], 'Who dialled (of the best open connection)'),
  connection: StringEnum(PEER_CONNECTION_KINDS, 'How we are connected (the best open connection): ' + PEER_CONNECTION_KINDS.join(', ')),
  relay: Type.Optional(Type.String({ description: 'The relay\'s peer id, when relayed' })),
  score: Type.Optional(Type.Number({ description: 'The peer\'s gossipsub score here (below −16000 it is graylisted; docs/protocol.md §6)' }))
})
export type PeerInfo = Static<typeof PeerInfo>

// ---- health (ecandle doctor, GET /health) ----

export const HEALTH_LEVELS = ['green', 'amber', 'red'] as const
export const HealthLevel = StringEnum(HEALTH_LEVELS, 'green: fine; amber: works, but needs a look; red: the hub cannot do its job (or leaks its key)')
export type HealthLevel = Static<typeof HealthLevel>

export const HealthCheck = Type.Object({
  check: Type.String({ description: 'key, network, database, role, peers, clock, devices, disk, epoch (and hub or config, from `ecandle doctor` on a stopped hub)' }),
  level: HealthLevel,
  message: Type.String({ description: 'What was found' }),
  fix: Type.Optional(Type.String({ description: 'What to do about it (amber and red)' }))
})
export type HealthCheck = Static<typeof HealthCheck>

export const HealthReport = Type.Object({
  status: StringEnum(HEALTH_LEVELS, 'The worst level of all checks'),
  peerId: Type.Optional(Type.String()),
  network: Type.Optional(Type.String({ description: 'Network id' })),
  checks: Type.Array(HealthCheck)
}, { description: 'The checks of `ecandle doctor`, one per line' })
export type HealthReport = Static<typeof HealthReport>

// ---- devices ----

/** Why the hub refused a report for good (the device must not resend it). */
export const RefusalReason = StringEnum(REFUSAL_REASONS, 'Why the hub refused a report for good: ' + REFUSAL_REASONS.join(', '))
export type RefusalReason = Static<typeof RefusalReason>

/** One device as a hub's link sees it (GET /devices items; what every device link reports). */
export const DeviceLinkStatus = Type.Object({
  device: Type.String(),
  link: Type.String({ description: 'emulator, serial:<path>, mqtt:<url>, …' }),
  connected: Type.Boolean(),
  lastReportAt: Type.Optional(Type.Integer({ description: 'Unix ms of the last report' })),
  counter: Type.Optional(Type.Integer({ description: 'The last counter the hub acknowledged (stored or duplicate)' })),
  batteryMv: Type.Optional(Type.Integer()),
  soc: Type.Optional(Type.Number({ description: 'Battery state of charge (%)' })),
  energyTodayMwh: Type.Optional(Type.Integer()),
  errors: Type.Integer(),
  lastError: Type.Optional(Type.String()),
  lastRefusal: Type.Optional(StringEnum(REFUSAL_REASONS, 'Why the hub last refused one of this device\'s reports for good (e.g. counter-reused, clock)')),
  lastRefusalCounter: Type.Optional(Type.Integer({ description: 'Counter of that refused report' }))
})
export type DeviceLinkStatus = Static<typeof DeviceLinkStatus>

// ---- logs ----

/** A device report inside an entry (GET /logs, the entries topic decoder). */
export const ReportJson = Type.Object({
  id: Type.String({ description: 'Report id: hex sha256 of the signed report bytes' }),
  device: Type.String(),
  counter: Type.Integer({ description: 'Per-device counter: unique (never reused), not necessarily rising' }),
  periodStart: Type.Integer({ description: 'Unix s' }),
  periodEnd: Type.Integer({ description: 'Unix s' }),
  energyMwh: Type.Integer({ description: 'Energy used in the period (mWh)' }),
  solarMwh: Type.Integer({ description: 'Solar energy harvested in the period (mWh)' }),
  litS: Type.Integer({ description: 'Seconds lit in the period' }),
  batteryMv: Type.Integer(),
  soc: Type.Integer({ description: 'Battery state of charge (%)' }),
  tempDeciC: Type.Integer({ description: 'Temperature (0.1 °C)' }),
  faults: Type.Integer({ description: 'Fault bit field' })
})
export type ReportJson = Static<typeof ReportJson>

export const EntryJson = Type.Object({
  id: Type.String({ description: 'Entry id (CID of its DAG-CBOR bytes, bafyrei…)' }),
  hub: Type.String({ description: 'Peer id of the hub whose log this is' }),
  seq: Type.Integer({ description: 'Position in that log, from 1' }),
  prev: Nullable(Type.String(), 'Id of the entry at seq − 1 (null at seq 1)'),
  epoch: Type.Integer({ description: 'Epoch of the entry\'s own signed time' }),
  time: Type.Integer({ description: 'Signed time of the entry (unix ms, the hub\'s clock)' }),
  reports: Type.Array(ReportJson, { description: 'The device usage reports in this entry' })
}, { description: 'One signed entry of a hub log' })
export type EntryJson = Static<typeof EntryJson>

export const ReportLocation = Type.Object({
  device: Type.String(),
  counter: Type.Integer(),
  hub: Type.String({ description: 'Hub (log) the device is registered to' }),
  seq: Type.Integer({ description: 'Entry seq in that log' }),
  index: Type.Integer({ description: 'Index of the report in the entry' })
}, { description: 'The report\'s place' })
export type ReportLocation = Static<typeof ReportLocation>

// ---- agreement ----

export const CutItemJson = Type.Object({
  hub: Type.String(),
  seq: Type.Integer({ description: 'Last entry of the hub\'s log in the cut; 0: none yet' }),
  id: Nullable(Type.String(), 'CID of that entry; null when seq is 0')
})
export type CutItemJson = Static<typeof CutItemJson>

const certificateFields = {
  epoch: Type.Integer(),
  valueId: Type.String({ description: 'hex sha256 of the DAG-CBOR epoch value' }),
  root: Type.String({ description: 'Merkle root of the epoch\'s tally (hex) that the quorum signed; reward proofs verify against it' }),
  prev: Nullable(Type.String(), 'Value id of epoch − 1 (null for the first epoch decided)'),
  round: Type.Integer({ description: 'Tendermint round of the decision' }),
  signers: Type.Array(Type.String(), { description: 'Peer ids of the hubs whose precommits are in the certificate (> 2/3)' }),
  cut: Type.Array(CutItemJson, { description: 'For every validator, in validator order: the last entry of its log that counts up to this epoch' })
}

/** A verified certificate as plain JSON (the certificates topic decoder; the core of an epoch summary). */
export const CertificateJson = Type.Object(certificateFields)
export type CertificateJson = Static<typeof CertificateJson>

export const EpochTotals = Type.Object({
  countedMwh: Decimal('Energy counted in the epoch (mWh)'),
  emission: Decimal('Units emitted this epoch'),
  prevDust: Decimal('Undistributed remainder carried in from the epoch before'),
  distributable: Decimal('emission + prevDust'),
  paid: Decimal('Paid out to accounts'),
  dust: Decimal('Carried to the next epoch')
}, { description: 'Tally totals, decimal strings' })
export type EpochTotals = Static<typeof EpochTotals>

export const EpochSummary = Type.Object({
  ...certificateFields,
  totals: EpochTotals,
  certificate: Type.String({ description: 'The certificate bytes (base64 DAG-CBOR); verify them with the network file, do not trust the other fields alone' })
}, { description: 'A decided epoch: its value (cut and tally root), certificate and totals' })
export type EpochSummary = Static<typeof EpochSummary>

export const ProofStepJson = Type.Object({ side: StringEnum(['left', 'right']), hash: Type.String() })
export type ProofStepJson = Static<typeof ProofStepJson>

export const RewardProofJson = Type.Object({
  leaf: Type.String({ description: 'The account leaf (hex DAG-CBOR: account, epoch, amount, cumulative)' }),
  path: Type.Array(ProofStepJson, { description: 'Sibling hashes from the leaf up to the root' }),
  root: Type.String({ description: 'The root the hub built it against (informational: verify against the certified root)' })
})
export type RewardProofJson = Static<typeof RewardProofJson>

export const RewardsJson = Type.Object({
  account: Type.String(),
  epoch: Type.Integer(),
  root: Type.String({ description: 'Tally root of the epoch' }),
  epochAmount: Decimal('Earned in this epoch'),
  cumulative: Decimal('Earned up to and including this epoch'),
  proof: Nullable(RewardProofJson, 'null when the account has no leaf in that epoch\'s tally')
}, { description: 'Reward and proof (proof is null when the account earned nothing up to this epoch)' })
export type RewardsJson = Static<typeof RewardsJson>

/** Why a report counted nothing (the tally's reason codes, in precedence order). */
export const ReasonCode = StringEnum(REASON_PRECEDENCE, `Why a report counted nothing: ${REASON_PRECEDENCE.join(', ')}`)
export type ReasonCode = Static<typeof ReasonCode>

export const ReportStatusJson = Type.Object({
  hub: Type.String(),
  seq: Type.Integer(),
  index: Type.Integer(),
  reportId: Type.String(),
  device: Type.String(),
  counter: Type.Integer(),
  status: StringEnum(['counted', 'rejected']),
  reason: Nullable(ReasonCode, 'null when counted'),
  countedMwh: Type.Integer(),
  partial: Type.Boolean({ description: 'Counted only in part (the device reached its cap)' })
})
export type ReportStatusJson = Static<typeof ReportStatusJson>

export const DeviceRowJson = Type.Object({
  device: Type.String(),
  countedMwh: Decimal('Energy counted for the device'),
  reward: Decimal('Its reward'),
  capex: Decimal('Capex share'),
  opex: Decimal('Opex share'),
  capexAccount: Type.String(),
  opexAccount: Type.String()
})
export type DeviceRowJson = Static<typeof DeviceRowJson>

export const EpochRewardsJson = Type.Object({
  epoch: Type.Integer(),
  root: Type.String({ description: 'Tally root of the epoch' }),
  accounts: Type.Array(Type.Object({
    account: Type.String(),
    epochAmount: Decimal('Earned in this epoch'),
    cumulative: Decimal('Earned up to and including this epoch')
  }), { description: 'Every account of the epoch\'s tally' }),
  devices: Type.Array(DeviceRowJson, { description: 'Devices that counted energy (a device absent here earned nothing: /tally/{epoch}?explain= says why)' })
}, { description: 'Every account\'s and device\'s reward in the epoch, as decided (no proofs: /rewards/{account} has them)' })
export type EpochRewardsJson = Static<typeof EpochRewardsJson>

const STATUSES = ['counted', ...REASON_PRECEDENCE] as const

export const Explanation = Type.Object({
  device: Type.String(),
  row: Nullable(DeviceRowJson, 'The device\'s reward row; null when nothing was counted'),
  reports: Type.Array(ReportStatusJson, { description: 'The device\'s reports in canonical order' }),
  byStatus: Type.Partial(Type.Object(Object.fromEntries(STATUSES.map(s => [s, Type.Integer()])) as Record<typeof STATUSES[number], ReturnType<typeof Type.Integer>>), { description: 'Reports per status/reason' }),
  text: Type.String({ description: 'Human-readable summary' })
}, { description: 'The device\'s tally explanation' })
export type Explanation = Static<typeof Explanation>

// ---- network ----

export const NetworkJson = Type.Object({
  id: Type.String({ description: 'Network id (hex): first 16 bytes of sha256 of the canonical definition without bootstrap' }),
  definition: Type.Unsafe<NetworkDefinition>({ type: 'object', additionalProperties: true, description: 'The network file as parsed: name, genesisTime, epochLengthS, gracePeriodS, emissionPerEpoch, capexBps, deviceCapMwhPerEpoch, validators, devices, bootstrap' })
}, { description: 'The network this hub runs (the hub\'s word: an auditor brings its own network file)' })
export type NetworkJson = Static<typeof NetworkJson>

// ---- evidence, admin, errors ----

export const EvidenceList = Type.Array(Type.String({ description: 'base64 evidence bytes; decode and verify with the protocol package' }), { description: 'Evidence records' })
export type EvidenceList = Static<typeof EvidenceList>

export const PartitionBody = Type.Object({
  block: Type.Array(Type.String({ minLength: 1, maxLength: 127 }), { maxItems: 1024, description: 'Peer ids to block (replaces the current set)' })
})
export type PartitionBody = Static<typeof PartitionBody>

export const PartitionResult = Type.Object({ blocked: Type.Array(Type.String()) }, { description: 'The peers now blocked' })
export type PartitionResult = Static<typeof PartitionResult>

/** The body of every non-2xx answer. */
export const ApiErrorBody = Type.Object({
  error: Type.String({ description: 'Machine-readable error code (bad-request, not-found, unauthorized, too-large, internal, …)' }),
  message: Type.String({ description: 'What went wrong, naming the field' })
})
export type ApiErrorBody = Static<typeof ApiErrorBody>

// ---- GET /events (Server-Sent Events): `event: <type>` then `data: <JSON>` ----

export const EntryEvent = Type.Object({
  hub: Type.String(),
  seq: Type.Integer(),
  id: Type.String(),
  epoch: Type.Integer(),
  time: Type.Integer({ description: 'Unix ms (the hub\'s clock)' }),
  reports: Type.Integer({ description: 'Number of reports in the entry' }),
  storedAt: Type.Integer({ description: 'When this hub stored it, unix ms (its clock)' }),
  reportIds: Type.Array(Type.String(), { description: '"<device>:<counter>" of each report' })
}, { description: 'An entry of any hub\'s log was stored here' })
export type EntryEvent = Static<typeof EntryEvent>

export const CertificateEvent = Type.Object({
  epoch: Type.Integer(),
  valueId: Type.String(),
  signers: Type.Array(Type.String()),
  countedMwh: Decimal('Energy counted in the epoch'),
  paid: Decimal('Paid out in the epoch')
}, { description: 'An epoch was decided' })
export type CertificateEvent = Static<typeof CertificateEvent>

export const EvidenceEvent = Type.Object({
  id: Type.String({ description: 'Hex sha256 of the evidence' }),
  kind: StringEnum(EVIDENCE_KINDS),
  offender: Type.String({ description: 'Hub peer id or device id' }),
  slot: Type.Integer({ description: 'Entry seq, report counter, or vote epoch' })
}, { description: 'Equivocation evidence was stored' })
export type EvidenceEvent = Static<typeof EvidenceEvent>

/** The events of GET /events, by SSE event type (also in the OpenAPI document's components, under these names). */
export const HubEventSchemas = {
  entry: { name: 'EntryEvent', schema: EntryEvent },
  evidence: { name: 'EvidenceEvent', schema: EvidenceEvent },
  certificate: { name: 'CertificateEvent', schema: CertificateEvent }
} as const
export interface HubEventMap { entry: EntryEvent, evidence: EvidenceEvent, certificate: CertificateEvent }
export type HubEvent = { [K in keyof HubEventMap]: { type: K, data: HubEventMap[K] } }[keyof HubEventMap]

// ---- params and query strings ----

export const DEVICE_ID = DEVICE_ID_RE.source

export const HubParams = Type.Object({ hub: Type.String({ pattern: PEER_ID, description: 'Peer id of a hub of the network' }) })
export const ReportParams = Type.Object({
  device: Type.String({ pattern: DEVICE_ID, description: 'Registered device id' }),
  counter: Type.Integer({ minimum: 1, description: 'Report counter (≥ 1)' })
})
export const EpochParams = Type.Object({ epoch: Type.Integer({ minimum: 0, description: 'Epoch number (≥ 0)' }) })
export const AccountParams = Type.Object({ account: Type.String({ pattern: HEX64, description: 'Capex or opex account (64 hex)' }) })
// Fields with a `default` are optional to the caller and always set for the handler (ajv fills them in).
export const LogsQuery = Type.Object({
  from: Type.Optional(Type.Integer({ minimum: 1, default: 1, description: 'First seq (≥ 1)' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, default: 20, description: 'Entries at most (1..256)' }))
})
export const EpochsQuery = Type.Object({
  from: Type.Optional(Type.Integer({ minimum: 0, description: 'First epoch (default: last decided − limit + 1)' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50, description: 'Epochs at most (1..1000)' }))
})
export const RewardsQuery = Type.Object({ epoch: Type.Optional(Type.Integer({ minimum: 0, description: 'Epoch (default: the last decided)' })) })
export const TallyQuery = Type.Object({ explain: Type.String({ pattern: DEVICE_ID, description: 'Registered device id' }) })
