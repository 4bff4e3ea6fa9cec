import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { OP_TYPES } from '@ecandle/protocol'

/**
 * Governance on the local API (docs/governance.md §11, docs/operations.md): the pool and recent
 * decisions (`GET /gov`), the registry, validators and parameters of an epoch (`GET /registry`),
 * and the writes (token): submit a signed operation or approval, approve as this validator.
 */

const PEER_ID = '^[1-9A-HJ-NP-Za-km-z]{32,128}$'
const HEX64 = '^[0-9a-f]{64}$'
const Nullable = <T extends TSchema>(t: T, description?: string) => Type.Union([t, Type.Null()], description === undefined ? {} : { description })
const Decimal = (description: string) => Type.String({ pattern: '^[0-9]+$', description })

export const GovOperationJson = Type.Object({
  id: Type.String({ pattern: HEX64, description: 'Operation id: hex sha256 of its payload' }),
  type: Type.Unsafe<typeof OP_TYPES[number]>({ type: 'string', enum: [...OP_TYPES], description: 'Operation type' }),
  exp: Type.Integer({ description: 'Last epoch whose value may decide it' }),
  fields: Type.Record(Type.String(), Type.Unknown(), { description: 'The operation\'s fields (keys and accounts as hex, amounts as decimal strings)' }),
  status: Type.Unsafe<'pending' | 'approved' | 'decided'>({ type: 'string', enum: ['pending', 'approved', 'decided'], description: 'pending: not (yet) decidable; approved: ready for the next proposer; decided: in a decided value' }),
  decidedIn: Nullable(Type.Integer(), 'Epoch whose value decided it'),
  needsValidators: Type.Boolean({ description: 'Needs yes-approvals of more than 2/3 of the validators' }),
  needsBuilders: Type.Boolean({ description: 'Needs the builders\' voice (params)' }),
  quorum: Type.Integer({ description: 'Validator approvals needed (0 when none are)' }),
  approvedBy: Type.Array(Type.String(), { description: 'Validators (peer ids) of the epoch to decide that approved' }),
  notApprovedBy: Type.Array(Type.String(), { description: 'Validators (peer ids) of the epoch to decide that have not' }),
  builderVotes: Type.Integer({ description: 'Builder approvals held (yes and no)' }),
  bytes: Type.String({ description: 'The signed operation, base64' })
})
export type GovOperationJson = Static<typeof GovOperationJson>

export const GovList = Type.Object({
  epoch: Type.Integer({ description: 'The next epoch to decide (its validators count approvals)' }),
  operations: Type.Array(GovOperationJson, { description: 'Pool and recently decided operations' })
}, { description: 'Governance operations on this hub: pending, approved, decided' })
export type GovList = Static<typeof GovList>

export const ValidatorJson = Type.Object({ peerId: Type.String({ pattern: PEER_ID }), operator: Type.String({ pattern: HEX64 }) })

export const RegistryDeviceJson = Type.Object({
  id: Type.String(),
  publicKey: Type.String({ pattern: HEX64 }),
  hub: Type.String(),
  capex: Type.String({ pattern: HEX64 }),
  opex: Type.String({ pattern: HEX64 }),
  ratedWhPerDay: Type.Integer(),
  since: Type.Integer({ description: 'First epoch registered' }),
  from: Type.Integer({ description: 'First epoch at its hub' }),
  retired: Nullable(Type.Integer(), 'First retired epoch')
})

export const RegistryJson = Type.Object({
  epoch: Type.Integer(),
  state: Type.String({ pattern: HEX64, description: 'State hash of the epoch (docs/governance.md §5)' }),
  validators: Type.Array(ValidatorJson, { description: 'V(E), in order' }),
  nextValidators: Type.Array(ValidatorJson, { description: 'V(E+1)' }),
  params: Type.Object({
    emissionPerEpoch: Decimal('Emission per epoch'),
    capexBps: Type.Integer(),
    deviceCapMwhPerEpoch: Decimal('Device cap per epoch, mWh'),
    gracePeriodS: Type.Integer(),
    makers: Type.Array(Type.String({ pattern: HEX64 })),
    builderQuorumBps: Type.Integer()
  }),
  devices: Type.Array(RegistryDeviceJson, { description: 'Every registered device (retired ones included), by id' })
}, { description: 'The network state in force during an epoch' })
export type RegistryJson = Static<typeof RegistryJson>

export const RegistryQuery = Type.Object({ epoch: Type.Optional(Type.Integer({ minimum: 0, description: 'Epoch (default: the next to decide)' })) })

export const GovSubmitBody = Type.Object({
  message: Type.String({ minLength: 4, maxLength: 360_000, description: 'A signed operation, approval or resolution, base64' })
})
export type GovSubmitBody = Static<typeof GovSubmitBody>

export const GovApproveBody = Type.Object({
  op: Type.String({ pattern: HEX64, description: 'Operation id' }),
  yes: Type.Optional(Type.Boolean({ default: true, description: 'false: a no (counts as no approval)' }))
})
export type GovApproveBody = Static<typeof GovApproveBody>

export const GovSubmitted = Type.Object({
  kind: Type.Unsafe<'operation' | 'approval' | 'resolution'>({ type: 'string', enum: ['operation', 'approval', 'resolution'] }),
  id: Type.String({ pattern: HEX64 })
}, { description: 'Pooled and gossiped' })
export type GovSubmitted = Static<typeof GovSubmitted>
