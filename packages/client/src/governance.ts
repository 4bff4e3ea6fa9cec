import {
  admissionLookup, followCertificate, genesisState, reject, validatorsAt,
  type CheckOptions, type DeviceRecord, type EntryLookup, type EpochState, type Network, type ValidatorSet, type VerifiedCertificate
} from '@ecandle/protocol'
import { certificateJson } from '@ecandle/api'
import type { CertificateMessage } from './decode.js'

/**
 * A light peer's view of the network as governance changes it (docs/governance.md §10): it starts
 * from the network file and derives each epoch's validators, registry and parameters from nothing but
 * certificates and the resolutions they name, so certificates across a validator-set change verify
 * and entries are checked against the registry in force. Feed it every certificate in epoch order
 * with its resolutions (`fetchCertificateBytes` and `fetchResolutions`, or the gossip topics).
 */
export class ChainFollower {
  private s: EpochState
  private last: VerifiedCertificate | undefined

  constructor (readonly net: Network, start: EpochState = genesisState(net)) {
    this.s = start
  }

  /** The state in force for the next epoch to follow (`state.epoch`). */
  get state (): EpochState { return this.s }

  /** The validators of `epoch`, when known (the next epoch to follow and the one after). */
  validatorsFor = (epoch: number): ValidatorSet | undefined => validatorsAt(this.s, epoch)

  /** Entry validation with the admission rules on what this follower knows. */
  lookup (): EntryLookup { return admissionLookup(this.s) }

  /** A device as the registry has it now (retired ones included), or undefined. */
  device (id: string): DeviceRecord | undefined { return this.s.registry.devices.get(id) }

  /**
   * Follows the certificate of epoch `state.epoch`: it must verify against that epoch's validators,
   * extend the last one followed, and its resolutions must be exactly those it names and pass every
   * rule (builder weights are not checked without `opts.weights`: the certifying validators did).
   * Throws the protocol's ValidationError; the follower does not move then.
   */
  follow (certificate: Uint8Array, resolutions: readonly Uint8Array[] = [], opts: CheckOptions = {}): CertificateMessage {
    const { cert, next } = followCertificate(this.net, this.s, certificate, resolutions, opts)
    const want = this.last?.valueId ?? null
    if (cert.value.prev !== want) throw reject('prev-mismatch', `certificate of epoch ${cert.value.epoch}: prev ${String(cert.value.prev)} is not ${String(want)}`)
    this.s = next
    this.last = cert
    return certificateJson(cert)
  }
}
