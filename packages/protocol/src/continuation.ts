import { Domain, fromHex, toHex, verifySignature, type Signer } from './crypto.js'
import { reject, ValidationError } from './errors.js'
import type { VerifiedCertificate } from './agreement.js'
import { genesisState, stateHash, type EpochState } from './gov-state.js'
import { networkId, parseNetwork, type Endorsement, type Network, type NetworkDefinition } from './network.js'
import { validatorSet } from './validators.js'

/**
 * Recovery when the quorum is gone for good (docs/governance.md §8): a new network whose genesis
 * carries over the last certified state of the old one, endorsed by the operators of the
 * validators that remain. Everything carried is checkable: the state hash against the old value's
 * `next`, the tally state against the old epoch's leaves and root, the validators against the old
 * sets, the endorsements against their operators.
 */

export const CONTINUATION_CODES = [
  'not-continued', 'validator-not-carried', 'endorsement-missing', 'endorsement-extra', 'endorsement-signature',
  'carried-state', 'carried-epoch', 'carried-value', 'carried-root', 'carried-next'
] as const
export type ContinuationCode = typeof CONTINUATION_CODES[number]

export const continueDomain = (oldNetworkId: string): string => `${Domain.continue}/${oldNetworkId}`

/** An operator's endorsement of a continued network: its signature over the 16 bytes of the new network id. */
export function signEndorsement (operator: Signer, net: Network): Endorsement {
  const old = continuedFrom(net)
  return { operator: toHex(operator.publicKey), signature: toHex(operator.sign(continueDomain(old), fromHex(net.id, 'network id', 16))) }
}

function continuedFrom (net: Network): string {
  const c = net.def.continues
  if (c === undefined) throw reject('not-continued', `network ${net.id} does not continue another network`)
  return c.network
}

/**
 * Everything a continued network file proves on its own: each validator is one of the old network's
 * validators of epoch E+1 or E+2 with the same operator; each validator's operator endorsed the
 * network id, and nobody else did; and the carried registry and parameters (its devices and
 * parameters) with the carried sets hash to the carried state. REJECT naming the first failure.
 */
export function verifyContinuation (net: Network): void {
  const c = net.def.continues
  if (c === undefined) throw reject('not-continued', `network ${net.id} does not continue another network`)
  const carried = new Map([...c.validators, ...c.nextValidators].map(v => [v.peerId, v.operator]))
  for (const v of net.def.validators) {
    if (carried.get(v.peerId) !== v.operator) throw reject('validator-not-carried', `validator ${v.peerId} (operator ${v.operator.slice(0, 12)}) is not a validator of network ${c.network} at epoch ${c.epoch + 1} or ${c.epoch + 2}`)
  }
  const operators = new Set(net.def.validators.map(v => v.operator))
  const endorsed = new Set<string>()
  const msg = fromHex(net.id, 'network id', 16)
  for (const e of net.def.endorsements ?? []) {
    if (!operators.has(e.operator) || endorsed.has(e.operator)) throw reject('endorsement-extra', `endorsement by ${e.operator.slice(0, 12)}: not the operator of a validator of this network, or twice`)
    if (!verifySignature(fromHex(e.operator, 'operator', 32), continueDomain(c.network), msg, fromHex(e.signature, 'signature', 64))) {
      throw reject('endorsement-signature', `endorsement by ${e.operator.slice(0, 12)}: bad signature over network id ${net.id}`)
    }
    endorsed.add(e.operator)
  }
  const missing = [...operators].filter(o => !endorsed.has(o))
  if (missing.length > 0) throw reject('endorsement-missing', `network ${net.id}: not endorsed by operator(s) ${missing.map(m => m.slice(0, 12)).join(', ')}`)
  const g = genesisState(net)
  const h = stateHash(validatorSet(c.validators).hash, validatorSet(c.nextValidators).hash, g.registry.hash, g.params.hash)
  if (h !== c.state) throw reject('carried-state', `network ${net.id}: the carried registry and parameters hash to state ${h.slice(0, 12)}, not ${c.state.slice(0, 12)} (the old network's state after epoch ${c.epoch})`)
}

/**
 * The link to the old network: `oldCert` must be the certificate of the carried epoch (the caller
 * verified it along the old network's chain), naming the carried value id, tally root and next state.
 * The carried tally state is checked against the old epoch's leaves by the tally (restoreFromLeaves).
 */
export function checkContinuationLink (net: Network, oldCert: VerifiedCertificate): void {
  const c = net.def.continues
  if (c === undefined) throw reject('not-continued', `network ${net.id} does not continue another network`)
  if (oldCert.value.epoch !== c.epoch) throw reject('carried-epoch', `certificate of epoch ${oldCert.value.epoch}, the network continues from epoch ${c.epoch}`)
  if (oldCert.valueId !== c.value) throw reject('carried-value', `epoch ${c.epoch} decided value ${oldCert.valueId.slice(0, 12)}, the network carries ${c.value.slice(0, 12)}`)
  if (oldCert.value.root !== c.root) throw reject('carried-root', `epoch ${c.epoch}: certified root ${oldCert.value.root.slice(0, 12)}, carried ${c.root.slice(0, 12)}`)
  if (oldCert.value.next !== c.state) throw reject('carried-next', `epoch ${c.epoch}: certified next state ${oldCert.value.next.slice(0, 12)}, carried ${c.state.slice(0, 12)}`)
}

/** The tally state a continued network starts from (dust and cumulative totals carried); empty otherwise. */
export function carriedTally (net: Network): { epoch: number, dust: bigint, cumulative: Map<string, bigint> } {
  const c = net.def.continues
  return { epoch: -1, dust: BigInt(c?.dust ?? '0'), cumulative: new Map((c?.cumulative ?? []).map(x => [x.account, BigInt(x.amount)])) }
}

export interface ContinueInput {
  old: Network
  /** The old network's certificate of the last epoch it decided, E. */
  cert: VerifiedCertificate
  /** S(E+1) of the old network (what that certificate's `next` names). */
  state: EpochState
  /** Tally state after E: dust and every account's cumulative total. */
  tally: { dust: bigint, cumulative: ReadonlyMap<string, bigint> }
  /** Peer ids of the validators that continue (of the old sets of E+1 or E+2). */
  remaining: readonly string[]
  name: string
  genesisTime: number
  bootstrap?: string[]
}

/** The definition of a continued network (`ecandle network continue --from-epoch E`), before endorsements. */
export function continueNetwork (i: ContinueInput): NetworkDefinition {
  const { old, cert, state } = i
  if (cert.value.next !== state.hash) throw new ValidationError('REJECT', 'carried-next', `the state given is not the one the certificate of epoch ${cert.value.epoch} names`)
  const known = new Map([...state.validators.list, ...state.next.list].map(v => [v.peerId, v.operator]))
  const validators = i.remaining.map(peerId => {
    const operator = known.get(peerId)
    if (operator === undefined) throw new ValidationError('REJECT', 'validator-not-carried', `${peerId} is not a validator of epoch ${state.epoch} or ${state.epoch + 1}`)
    return { peerId, operator }
  })
  const p = state.params
  const def: NetworkDefinition = {
    name: i.name,
    genesisTime: i.genesisTime,
    epochLengthS: old.def.epochLengthS,
    gracePeriodS: p.gracePeriodS,
    emissionPerEpoch: p.emissionPerEpoch.toString(),
    capexBps: p.capexBps,
    deviceCapMwhPerEpoch: p.deviceCapMwhPerEpoch.toString(),
    validators,
    devices: [...state.registry.devices.values()].sort((a, b) => a.id < b.id ? -1 : 1).map(d => ({
      id: d.id, publicKey: d.publicKey, hub: d.hub, capex: d.capex, opex: d.opex, ratedWhPerDay: d.ratedWhPerDay, ...(d.retired !== null ? { retired: true as const } : {})
    })),
    ...(p.makers.length > 0 ? { makers: [...p.makers] } : {}),
    governance: { builderQuorumBps: p.builderQuorumBps, opLifetimeEpochs: old.governance.opLifetimeEpochs },
    continues: {
      network: old.id,
      epoch: cert.value.epoch,
      value: cert.valueId,
      root: cert.value.root,
      state: state.hash,
      validators: state.validators.list.map(v => ({ peerId: v.peerId, operator: v.operator })),
      nextValidators: state.next.list.map(v => ({ peerId: v.peerId, operator: v.operator })),
      dust: i.tally.dust.toString(),
      cumulative: [...i.tally.cumulative].sort((a, b) => a[0] < b[0] ? -1 : 1).map(([account, amount]) => ({ account, amount: amount.toString() }))
    },
    bootstrap: i.bootstrap ?? []
  }
  // Round-trip through the parser: what we write is what every node will read.
  parseNetwork(JSON.parse(JSON.stringify(def)))
  return def
}

/** Adds endorsements to a continued network definition (its id does not change: endorsements are not part of it). */
export function withEndorsements (def: NetworkDefinition, endorsements: readonly Endorsement[]): NetworkDefinition {
  const id = networkId(def)
  const out = { ...def, endorsements: [...(def.endorsements ?? []).filter(e => !endorsements.some(x => x.operator === e.operator)), ...endorsements] }
  if (networkId(out) !== id) throw new Error('endorsements changed the network id')
  return out
}
