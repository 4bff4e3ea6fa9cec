import type { Network, ValidatorsFor, VerifiedCertificate } from '@ecandle/protocol'
import type { Store } from '@ecandle/store'
import { CertificateRepository } from './certificates.js'
import { ConsensusStateRepository } from './consensus-state.js'
import { EpochRecordRepository, type EpochRecord } from './epoch-records.js'
import { GovPoolRepository, ResolutionRepository } from './governance.js'

export * from './certificates.js'
export * from './consensus-state.js'
export * from './epoch-records.js'
export * from './governance.js'
export * from './migrate.js'

/** The agreement's buckets, one typed repository each (Lodestar style). */
export class AgreementDb {
  readonly certificates: CertificateRepository
  readonly records: EpochRecordRepository
  readonly state: ConsensusStateRepository
  readonly resolutions: ResolutionRepository
  readonly pool: GovPoolRepository

  /** `validators`: the set of an epoch, for decoding stored certificates (the governance chain's). */
  constructor (private readonly store: Store, net: Network, validators: ValidatorsFor) {
    this.certificates = new CertificateRepository(store, net, validators)
    this.records = new EpochRecordRepository(store)
    this.state = new ConsensusStateRepository(store)
    this.resolutions = new ResolutionRepository(store)
    this.pool = new GovPoolRepository(store)
  }

  /** A decision: its certificate, its record and the resolutions it names in one synced batch. */
  async commit (cert: VerifiedCertificate, rec: EpochRecord, resolutions: readonly Uint8Array[]): Promise<void> {
    const ops = [this.certificates.putOp(rec.epoch, cert), this.records.putOp(rec.epoch, rec)]
    if (resolutions.length > 0) ops.push(this.resolutions.putOp(rec.epoch, [...resolutions]))
    await this.store.batchRaw(ops, { sync: true })
  }
}
