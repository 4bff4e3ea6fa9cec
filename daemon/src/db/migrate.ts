import { CID } from '@ecandle/protocol'
import { Bucket, keys, type Migration, type PutOp, type Store } from '@ecandle/store'
import { decodeConsensusState, encodeConsensusState, type ConsensusState } from './consensus-state.js'
import { decodeEpochRecord, encodeEpochRecord, type EpochRecord } from './epoch-records.js'

/** Schema 1 kept epoch records and the consensus state as JSON with `$big`/`$map`/`$bytes` tags and CIDs as { "/": … }. */
function fromJsonV1<T> (bytes: Uint8Array): T {
  return JSON.parse(new TextDecoder().decode(bytes), (_k, v) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      if (typeof v.$big === 'string') return BigInt(v.$big)
      if (Array.isArray(v.$map)) return new Map(v.$map)
      if (Array.isArray(v.$set)) return new Set(v.$set)
      if (typeof v.$bytes === 'string') return new Uint8Array(Buffer.from(v.$bytes, 'base64'))
      if (typeof v['/'] === 'string' && Object.keys(v).length === 1) return CID.parse(v['/'])
    }
    return v
  }) as T
}

/**
 * Schema 1 → 2: every epoch record and the consensus state, JSON → DAG-CBOR (each written back is
 * decoded again first, so a record that does not fit the new schema stops the migration, naming it).
 * Certificates keep their bytes.
 */
export function agreementMigrations (): Migration[] {
  return [{
    from: 1,
    name: 'epoch records and consensus state: JSON to DAG-CBOR',
    run: async (store: Store): Promise<PutOp[]> => {
      const ops: PutOp[] = []
      for await (const [key, v] of store.iterate(Bucket.epochRecord)) {
        const bytes = encodeEpochRecord(fromJsonV1<EpochRecord>(v))
        decodeEpochRecord(bytes)
        ops.push({ key, value: bytes })
      }
      const state = await store.getRaw(keys.consensus('state'))
      if (state !== undefined) {
        const bytes = encodeConsensusState(fromJsonV1<ConsensusState>(state))
        decodeConsensusState(bytes)
        ops.push({ key: keys.consensus('state'), value: bytes })
      }
      return ops
    }
  }, {
    from: 2,
    name: 'governance buckets (resolutions of decided epochs, the pool): new and empty',
    // Schema-2 hubs never decided a resolution and kept no pool: nothing to write.
    run: async (): Promise<PutOp[]> => []
  }]
}
