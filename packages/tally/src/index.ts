export * from './types.js'
export { tally, genesisState, counterKey, compareReports, isPlausible, buildTree, tallyLeaves, leafIndex } from './tally.js'
export { proveAccount, proveDevice, proveSummary, verifyProof, proofLeaf, verifyAccountProof } from './proof.js'
export { explain } from './explain.js'
export { tallyParams, tallyDevices, segmentRows, type NetworkLike, type ReportLike } from './inputs.js'
export { implausibility, PLAUSIBILITY, type PlausibilityInput } from './plausibility.js'
export {
  encodeLeaf,
  encodeAccountLeaf,
  encodeDeviceLeaf,
  encodeSummaryLeaf,
  decodeLeaf,
  bigintToDecimal,
  decimalToBigint
} from './leaf.js'
export {
  MerkleTree,
  merkleRoot,
  merkleProof,
  rootFromPath,
  verifyPath,
  leafHash,
  nodeHash,
  compareBytes,
  sortLeaves,
  toHex,
  parseHash,
  EMPTY_ROOT
} from './merkle.js'
export { restoreFromLeaves, diffLeaves, type RestoredEpoch, type LeafDifference } from './restore.js'
export { builderWeights } from './weights.js'
