import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from '@chainsafe/libp2p-gossipsub/score'
import type { GossipsubOpts } from '@chainsafe/libp2p-gossipsub'

type DecodeRPCLimits = NonNullable<GossipsubOpts['decodeRpcLimits']>

/**
 * gossipsub peer scoring and RPC bounds of a hub (docs/protocol.md §6). What matters:
 *
 * - a REJECT (a message that breaks a rule, provably) costs its sender −1000 × n² on that topic (P4,
 *   n = invalid messages, decaying by 1 % a second): four are enough to fall below the graylist
 *   threshold (−16000), after which every RPC of the peer is dropped unread, and the hub hangs up on
 *   it (defences.ts). An IGNORE (a duplicate, a gap, an entry from our future) costs nothing.
 * - positive scores are small and capped (time in mesh, first deliveries), so a peer cannot bank
 *   credit before misbehaving; validators get +50 from the application score.
 * - no mesh-delivery-rate penalty (P3): our topics are quiet for seconds between entries and bursty
 *   in catch-up, so a deficit would punish honest hubs.
 * - no IP colocation penalty (P6): connection limits per IP do that job (defences.ts), and many
 *   honest light peers may share one carrier-grade NAT address.
 */

export const SCORE_THRESHOLDS: PeerScoreThresholds = {
  /** Below: no gossip (IHAVE/IWANT) to or from the peer. */
  gossipThreshold: -4000,
  /** Below: our own messages are not published to the peer. */
  publishThreshold: -8000,
  /** Below: every RPC of the peer is ignored (and defences.ts disconnects a stranger). */
  graylistThreshold: -16000,
  acceptPXThreshold: 100,
  opportunisticGraftThreshold: 5
}

/** The score one REJECTed message adds on its topic (P4 weight; the penalty is weight × n²). */
export const INVALID_MESSAGE_WEIGHT = -1000

/** REJECTs on one topic that take a peer (at most +50 + the topic cap of 50) below the graylist threshold: 5 (−25000). */
export const REJECTS_PAST_GRAYLIST = 5

const topicParams: TopicScoreParams = {
  topicWeight: 1,
  // P1: up to +3 for 5 minutes in the mesh.
  timeInMeshWeight: 0.01,
  timeInMeshQuantum: 1000,
  timeInMeshCap: 300,
  // P2: +1 per first delivery, at most +20, halving in about a minute.
  firstMessageDeliveriesWeight: 1,
  firstMessageDeliveriesDecay: 0.99,
  firstMessageDeliveriesCap: 20,
  // P3, P3b: off (see above); values kept valid.
  meshMessageDeliveriesWeight: 0,
  meshMessageDeliveriesDecay: 0.5,
  meshMessageDeliveriesCap: 1,
  meshMessageDeliveriesThreshold: 1,
  meshMessageDeliveriesWindow: 10,
  meshMessageDeliveriesActivation: 5000,
  meshFailurePenaltyWeight: 0,
  meshFailurePenaltyDecay: 0.5,
  // P4: invalid messages weigh heavily and are remembered for minutes (half-life ≈ 69 s).
  invalidMessageDeliveriesWeight: INVALID_MESSAGE_WEIGHT,
  invalidMessageDeliveriesDecay: 0.99
}

/** Score parameters for the given topics (the network's four), validators favoured by `isValidator`. */
export function scoreParams (topics: readonly string[], isValidator: (peer: string) => boolean): Partial<PeerScoreParams> {
  return {
    topics: Object.fromEntries(topics.map(t => [t, { ...topicParams }])),
    // Caps the positive part only: a misbehaving peer's penalties are never capped.
    topicScoreCap: 50,
    appSpecificScore: (peer: string) => isValidator(peer) ? 50 : 0,
    appSpecificWeight: 1,
    IPColocationFactorWeight: 0,
    IPColocationFactorThreshold: 1,
    IPColocationFactorWhitelist: new Set(),
    // P7 (broken IWANT promises, GRAFT floods): −10 × excess² above 6 penalties, decaying 10 % a second.
    behaviourPenaltyWeight: -10,
    behaviourPenaltyThreshold: 6,
    behaviourPenaltyDecay: 0.9,
    decayInterval: 1000,
    decayToZero: 0.01,
    // A peer that leaves with a non-positive score finds it again if it comes back within 10 minutes.
    retainScore: 10 * 60_000
  }
}

/**
 * Bounds on one decoded RPC: an RPC over a bound is dropped whole before any of it is handled. An
 * honest peer subscribes to 4 topics and sends a handful of messages per RPC; IHAVE/IWANT lists are
 * bounded by gossipsub's own maxIHaveLength (5000). A peer's first RPC lists all its subscriptions: 256
 * leaves room for an app subscribed to many networks.
 */
export const RPC_LIMITS: DecodeRPCLimits = {
  maxSubscriptions: 256,
  maxMessages: 256,
  maxIhaveMessageIDs: 5000,
  maxIwantMessageIDs: 5000,
  maxIdontwantMessageIDs: 5000,
  maxControlMessages: 64,
  maxPeerInfos: 16
}
