import { gossipsub, type GossipsubEvents } from '@chainsafe/libp2p-gossipsub'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import type { PeerId, PubSub, PrivateKey } from '@libp2p/interface'
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht'
import { ping, type Ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p } from 'libp2p'
import { createHash } from 'node:crypto'
import { StrictNoSign } from '@libp2p/interface'

export type HubServices = {
  identify: unknown
  ping: Ping
  pubsub: PubSub<GossipsubEvents>
  dht: KadDHT
}
export type HubNode = Libp2p<HubServices>

export interface HubNodeInit {
  /** 32-byte Ed25519 seed of the hub (or light peer) key. */
  seed: Uint8Array
  /** Network id: names the DHT protocol. */
  networkId: string
  listen: string[]
  bootstrap: string[]
  /** Peers this node refuses to talk to (a partition in tests). Mutable. */
  blocked?: Set<string>
  /** A light peer: DHT client mode, no listening needed. */
  light?: boolean
}

export async function privateKeyFromSeed (seed: Uint8Array): Promise<PrivateKey> {
  return await generateKeyPairFromSeed('Ed25519', seed)
}

/** Gossip message id: sha256 of the bytes (StrictNoSign messages have no from/seqno). */
export function messageId (data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest())
}

export async function createHubNode (init: HubNodeInit): Promise<HubNode> {
  const blocked = init.blocked ?? new Set<string>()
  const isBlocked = (p: PeerId): boolean => blocked.has(p.toString())
  return await createLibp2p<HubServices>({
    privateKey: await privateKeyFromSeed(init.seed) as any,
    addresses: { listen: init.light === true ? [] : init.listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: init.bootstrap.length > 0 ? [bootstrap({ list: init.bootstrap, timeout: 500 })] : [],
    connectionGater: {
      // Hubs talk on loopback and LANs; a partition in tests blocks chosen peers both ways.
      denyDialMultiaddr: () => false,
      denyDialPeer: isBlocked,
      denyInboundEncryptedConnection: isBlocked,
      denyOutboundEncryptedConnection: isBlocked
    },
    connectionManager: {
      maxConnections: 300,
      // libp2p's default of 5 new inbound connections/s per host starves a loopback testnet.
      inboundConnectionThreshold: 100,
      maxIncomingPendingConnections: 50
    },
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        // Entries carry their own signatures; signing every gossip message again costs ~3x throughput.
        globalSignaturePolicy: StrictNoSign,
        msgIdFn: (msg) => messageId(msg.data ?? new Uint8Array(0)),
        fastMsgIdFn: (msg) => createHash('sha1').update(msg.data ?? new Uint8Array(0)).digest('base64'),
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        // Bounded inbound RPC (a full entry is ≈ 66 KiB; evidence twice that).
        maxInboundDataLength: 1024 * 1024,
        scoreParams: {
          // Many hubs on one loopback IP is a testnet, not a Sybil attack.
          IPColocationFactorWhitelist: new Set(['127.0.0.1', '::1'])
        }
      }) as any,
      dht: kadDHT({
        protocol: `/ecandle/${init.networkId}/kad/1.0.0`,
        clientMode: init.light === true,
        // Community hubs sit on LANs and loopback testnets: keep private addresses.
        peerInfoMapper: passthroughMapper,
        allowQueryWithZeroPeers: true
      })
    }
  })
}
