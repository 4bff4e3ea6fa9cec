import type { Network, VerifiedCertificate } from '@ecandle/protocol'
import type { Store } from '@ecandle/store'
import { CertificateRepository } from './certificates.js'
import { ConsensusStateRepository } from './consensus-state.js'
import { EpochRecordRepository, type EpochRecord } from './epoch-records.js'

export * from './certificates.js'
export * from './consensus-state.js'
export * from './epoch-records.js'
export * from './migrate.js'

/** The agreement's buckets, one typed repository each (Lodestar style). */
export class AgreementDb {
  readonly certificates: CertificateRepository
  readonly records: EpochRecordRepository
  readonly state: ConsensusStateRepository

  constructor (private readonly store: Store, net: Network) {
    this.certificates = new CertificateRepository(store, net)
    this.records = new EpochRecordRepository(store, net)
    this.state = new ConsensusStateRepository(store, net)
  }

  /** A decision: its certificate and its record in one synced batch. */
  async commit (cert: VerifiedCertificate, rec: EpochRecord): Promise<void> {
    await this.store.batchRaw([this.certificates.putOp(rec.epoch, cert), this.records.putOp(rec.epoch, rec)], { sync: true })
  }
}
