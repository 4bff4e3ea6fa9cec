// The package's entry in Node: everything of index.ts, plus signature checks on worker threads
// (VerifyPool) as the default verifier. Browsers get index.ts alone (package.json export conditions).
import { setDefaultVerifier } from './verifier.js'
import { sharedVerifyPool } from './verify-pool.js'

export * from './index.js'
export * from './verify-pool.js'

setDefaultVerifier(sharedVerifyPool)
