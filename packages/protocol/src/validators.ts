import { hexToBytes } from '@ecandle/crypto'
import { encode } from './cbor.js'
import { sha256, toHex } from './crypto.js'
import { publicKeyFromPeerId } from './ids.js'
import type { Network } from './network.js'

/**
 * The validators of one epoch, in order: proposer rotation, cut order and certificate signer indices
 * all follow it. Genesis gives the first set; decided hub-add and hub-remove operations the later ones
 * (docs/governance.md §5).
 */
export interface Validator {
  peerId: string
  /** Operator account, hex. */
  operator: string
  /** The hub's Ed25519 key (from its peer id). */
  publicKey: Uint8Array
}

export interface ValidatorSet {
  readonly list: readonly Validator[]
  readonly ids: readonly string[]
  readonly byId: ReadonlyMap<string, Validator & { index: number }>
  /** Hex sha256 of DAG-CBOR [[peer id, operator bytes], …] in order. */
  readonly hash: string
}

export function validatorSet (list: ReadonlyArray<{ peerId: string, operator: string }>): ValidatorSet {
  const vs: Validator[] = list.map(v => ({ peerId: v.peerId, operator: v.operator, publicKey: publicKeyFromPeerId(v.peerId) }))
  const byId = new Map(vs.map((v, index) => [v.peerId, { ...v, index }]))
  const hash = toHex(sha256(encode(vs.map(v => [v.peerId, hexToBytes(v.operator)]))))
  return { list: vs, ids: vs.map(v => v.peerId), byId, hash }
}

const genesisSets = new WeakMap<Network, ValidatorSet>()

/** The network file's validators: the set of epochs 0 and 1. */
export function genesisValidators (net: Network): ValidatorSet {
  let s = genesisSets.get(net)
  if (s === undefined) {
    s = validatorSet(net.def.validators)
    genesisSets.set(net, s)
  }
  return s
}

/** The validator set of a certificate's epoch, given as a set, a lookup by epoch, or (genesis) the network. */
export type ValidatorsFor = ValidatorSet | ((epoch: number) => ValidatorSet | undefined)
