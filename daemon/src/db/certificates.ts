import { decodeStoredCertificate, type Network, type ValidatorsFor, type VerifiedCertificate } from '@ecandle/protocol'
import { Bucket, Repository, u64Key, type Store } from '@ecandle/store'

/**
 * Decided epochs' certificates, epoch → the certificate's own bytes. Only certificates that passed
 * verifyCertificate are put here, so a read decodes without verifying the signatures again.
 */
export class CertificateRepository extends Repository<number, VerifiedCertificate> {
  constructor (store: Store, net: Network, validators: ValidatorsFor) {
    super(store, Bucket.certificate, u64Key, { encode: (c) => c.bytes, decode: (b) => decodeStoredCertificate(net, b, validators) })
  }
}
