import { approvalsNeeded, quorumOf, toHex, type EpochState, type Operation, type VerifiedApproval, type VerifiedOperation } from '@ecandle/protocol'
import type { GovOperationJson, RegistryJson } from '@ecandle/api'

/** An operation's fields as JSON: bytes as hex, amounts as decimal strings (the CLI and API show these). */
export function operationFields (op: Operation): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(op)) {
    if (k === 'type' || k === 'exp') continue
    out[k] = jsonOf(v)
  }
  return out
}

function jsonOf (v: unknown): unknown {
  if (v instanceof Uint8Array) return toHex(v)
  if (typeof v === 'bigint') return v.toString()
  if (Array.isArray(v)) return v.map(jsonOf)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonOf(x)]))
  return v
}

/** One row of `gov list`: who of V(E) has approved, who has not. */
export function operationJson (s: EpochState, op: VerifiedOperation, approvals: readonly VerifiedApproval[], decidedIn: number | null): GovOperationJson {
  const need = approvalsNeeded(op.op.type)
  const yes = new Set(approvals.filter(a => a.as === 'validator' && a.yes).map(a => toHex(a.by)))
  const approvedBy = s.validators.list.filter(v => yes.has(toHex(v.publicKey))).map(v => v.peerId)
  const quorum = need.validators ? quorumOf(s.validators.ids.length) : 0
  return {
    id: op.id,
    type: op.op.type,
    exp: op.op.exp,
    fields: operationFields(op.op),
    status: decidedIn !== null ? 'decided' : approvedBy.length >= quorum ? 'approved' : 'pending',
    decidedIn,
    needsValidators: need.validators,
    needsBuilders: need.builders,
    quorum,
    approvedBy: need.validators ? approvedBy : [],
    notApprovedBy: need.validators ? s.validators.ids.filter(id => !approvedBy.includes(id)) : [],
    builderVotes: approvals.filter(a => a.as === 'builder').length,
    bytes: Buffer.from(op.bytes).toString('base64')
  }
}

export function registryJson (s: EpochState): RegistryJson {
  const set = (v: EpochState['validators']): RegistryJson['validators'] => v.list.map(x => ({ peerId: x.peerId, operator: x.operator }))
  const p = s.params
  return {
    epoch: s.epoch,
    state: s.hash,
    validators: set(s.validators),
    nextValidators: set(s.next),
    params: { emissionPerEpoch: p.emissionPerEpoch.toString(), capexBps: p.capexBps, deviceCapMwhPerEpoch: p.deviceCapMwhPerEpoch.toString(), gracePeriodS: p.gracePeriodS, makers: [...p.makers], builderQuorumBps: p.builderQuorumBps },
    devices: [...s.registry.devices.values()].sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0).map(d => ({
      id: d.id, publicKey: d.publicKey, hub: d.hub, capex: d.capex, opex: d.opex, ratedWhPerDay: d.ratedWhPerDay, since: d.since, from: d.from, retired: d.retired
    }))
  }
}
