import { decodeCanonical, encode, expectBytes, governanceLimits, ProtocolError } from '@ecandle/protocol'
import { Bucket, nameKey, Repository, u64Key, type Store } from '@ecandle/store'

/**
 * The resolutions of each decided epoch: epoch → DAG-CBOR [resolution bytes, …] in the order the value
 * names them (docs/governance.md §9). Written in the same batch as the epoch's certificate and record.
 */
export class ResolutionRepository extends Repository<number, Uint8Array[]> {
  constructor (store: Store) {
    super(store, Bucket.resolutions, u64Key, {
      encode: (list) => encode(list),
      decode: (b) => {
        const x = decodeCanonical(b, 'resolutions')
        if (!Array.isArray(x) || x.length > governanceLimits.maxResolutionsPerValue) throw new ProtocolError('shape', 'resolutions: expected a list')
        return x.map((r, i) => expectBytes(r, `resolutions[${i}]`, governanceLimits.maxResolutionBytes))
      }
    })
  }
}

/** The governance pool: hex id → the message as received (operation, approval or resolution). */
export class GovPoolRepository extends Repository<string, Uint8Array> {
  constructor (store: Store) {
    super(store, Bucket.govPool, nameKey, { encode: (b) => b, decode: (b) => b })
  }
}
