import { protocols as protocolNames, topics as topicNames, type Network } from '@ecandle/protocol'

/**
 * Gossip topic and stream protocol names of one network. Every name carries the network id, so an
 * app subscribed to one network can never mix in another network's messages.
 */
export interface NetworkTopics {
  /** One signed hub log entry per message (docs/protocol.md §4). */
  entries: string
  /** One evidence object per message (docs/protocol.md §7). */
  evidence: string
  /** Consensus bundles of the validators (docs/consensus.md §3); the SDK does not decode these. */
  consensus: string
  /** One epoch certificate per message (docs/consensus.md §3). */
  certificates: string
  /** Signed governance operations, approvals and resolutions (docs/governance.md §9). */
  governance: string
}

export interface NetworkProtocols {
  heads: string
  entries: string
  certificates: string
  /** Resolutions of a decided epoch, or by id (docs/governance.md §9). */
  governance: string
  /** kad-dht protocol: `${dhtPrefix}/kad/1.0.0`. */
  dhtPrefix: string
}

/** Accepts a parsed Network or its id (32 hex characters). */
export type NetworkRef = Network | string

const idOf = (net: NetworkRef): string => typeof net === 'string' ? net : net.id

export function networkTopics (net: NetworkRef): NetworkTopics {
  const id = idOf(net)
  return { entries: topicNames.entries(id), evidence: topicNames.evidence(id), consensus: topicNames.consensus(id), certificates: topicNames.certificates(id), governance: topicNames.governance(id) }
}

export function networkProtocols (net: NetworkRef): NetworkProtocols {
  const id = idOf(net)
  return { heads: protocolNames.heads(id), entries: protocolNames.entries(id), certificates: protocolNames.certificates(id), governance: protocolNames.governance(id), dhtPrefix: protocolNames.dhtPrefix(id) }
}

export { topicNames as topics, protocolNames as protocols }
