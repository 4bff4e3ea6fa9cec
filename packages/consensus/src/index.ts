export { Tendermint, maxFaulty, quorumSize, proposerOf } from './tendermint.js'
export type {
  Step, Proposal, ProposalMsg, VoteMsg, Message, ProposalInput, InputMessage, Timeouts,
  PersistentState, DecideOutput, Output, TendermintOptions
} from './types.js'
export { checkSetChange, applySetChange, minValidators, MAX_VALIDATORS, type SetChangeCode } from './validator-set.js'
