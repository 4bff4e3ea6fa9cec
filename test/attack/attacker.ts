import { gossipsub } from '@chainsafe/libp2p-gossipsub'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import type { PubSub } from '@libp2p/interface'
import { StrictNoSign } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p } from 'libp2p'
import { randomBytes, createHash } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { multiaddr, peerIdFromString } from '@ecandle/net'
import { entriesOf } from '@ecandle/wire'
import {
  contentId, encodeBundle, encodeCertificate, epochOf, generateSeed, signConsensus, signEntry, signerFromSeed, signReport, topics,
  type Network, type Signer
} from '@ecandle/protocol'

/**
 * The attacker: real libp2p 2 peers (TCP, noise, yamux, gossipsub 14, StrictNoSign as the hubs)
 * dialling the hubs from attacker addresses on the loopback (127.0.0.64 and up: other IPs than the
 * hubs' 127.0.0.1, so per-IP limits are exercised), with a fresh peer id whenever the hubs hang up.
 * Nothing here is mocked: every attack is bytes on real sockets.
 */

/** First attacker IP; `ATTACK_IPS` consecutive ones are used. */
export const ATTACK_IP_BASE = 64
export const ATTACK_IPS = 16
export const attackIp = (i: number): string => `127.0.0.${ATTACK_IP_BASE + (i % ATTACK_IPS)}`

export type AttackPeer = Libp2p<{ pubsub: PubSub, identify: unknown }>

/** A libp2p 2 node of the attacker's, its dials from `ip`. */
export async function attackPeer (ip: string, opts: { gossip?: boolean } = {}): Promise<AttackPeer> {
  const node = await createLibp2p({
    privateKey: await generateKeyPairFromSeed('Ed25519', generateSeed()) as any,
    addresses: { listen: [] },
    // dialOpts go to net.connect: the source address of every dial.
    transports: [tcp({ dialOpts: { localAddress: ip } as any })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { maxConnections: 1000 },
    services: {
      identify: identify(),
      pubsub: opts.gossip === false
        ? (() => ({})) as any
        : gossipsub({
          globalSignaturePolicy: StrictNoSign,
          msgIdFn: (m) => new Uint8Array(createHash('sha256').update(m.data ?? new Uint8Array(0)).digest()),
          fastMsgIdFn: (m) => createHash('sha1').update(m.data ?? new Uint8Array(0)).digest('base64'),
          allowPublishToZeroTopicPeers: true,
          floodPublish: true,
          emitSelf: false,
          // The attacker scores nobody down: it keeps sending to everyone.
          scoreThresholds: { gossipThreshold: -Infinity, publishThreshold: -Infinity, graylistThreshold: -Infinity },
          maxInboundDataLength: 4 * 1024 * 1024
        }) as any
    }
  })
  await node.start()
  return node as unknown as AttackPeer
}

export interface Target { peerId: string, addr: string }

/** The kinds of poisoned gossip (docs/protocol.md §5–6: each is REJECTed, or IGNOREd as a replay). */
export type GossipKind = 'garbage' | 'forged-entry' | 'bit-flip' | 'replay' | 'oversize' | 'vote' | 'certificate' | 'subscriptions'

export const GOSSIP_KINDS: readonly GossipKind[] = ['garbage', 'forged-entry', 'bit-flip', 'replay', 'oversize', 'vote', 'certificate', 'subscriptions']

/** Makes poisoned gossip messages: each call a new one (gossip drops byte-identical messages). */
export class Poison {
  private readonly evil: Signer
  private n = 0

  constructor (private readonly net: Network, private readonly valid: Uint8Array[]) {
    this.evil = signerFromSeed(generateSeed())
  }

  /** [topic, data] for one message of `kind` (subscriptions: none, see flood). */
  make (kind: GossipKind): [string, Uint8Array] {
    const id = this.net.id
    const i = this.n++
    switch (kind) {
      case 'garbage': return [topics.entries(id), randomBytes(64 + (i % 900))]
      case 'forged-entry': {
        // Claims a hub's next entry; signed by the attacker.
        const hub = this.net.validatorIds[i % this.net.validatorIds.length]
        const now = Date.now()
        const dev = this.net.def.devices.find(d => d.hub === hub)?.id ?? 'x'
        const report = signReport(this.evil, { device: dev, counter: 9_000_000_000 + i, periodStart: Math.floor(now / 1000) - 11, periodEnd: Math.floor(now / 1000) - 1, energyMwh: 1, solarMwh: 0, litS: 0, batteryMv: 3700, soc: 50, tempDeciC: 250, faults: 0 })
        return [topics.entries(id), signEntry(this.net, this.evil, { hub, seq: 1_000_000 + i, prev: contentId(randomBytes(16)), epoch: epochOf(this.net, now), time: now, reports: [report] })]
      }
      case 'bit-flip': {
        // A valid entry of a hub with one bit flipped: its signature no longer verifies.
        const v = this.valid[i % Math.max(1, this.valid.length)] ?? randomBytes(300)
        const b = Uint8Array.from(v)
        b[(i * 7919) % b.byteLength] ^= 1 << (i % 8)
        return [topics.entries(id), b]
      }
      case 'replay': return [topics.entries(id), this.valid[i % Math.max(1, this.valid.length)] ?? randomBytes(300)]
      case 'oversize': return [topics.entries(id), randomBytes(70 * 1024 + (i % 1024))]
      case 'vote': {
        // A prevote from a peer that is no validator.
        const msg = signConsensus(this.net, this.evil, { type: 'prevote', epoch: 1 + (i % 1000), round: 0, from: this.net.validatorIds[0], valueId: randomBytes(32).toString('hex') })
        return [topics.consensus(id), encodeBundle({ at: Date.now() + i, msgs: [msg] })]
      }
      case 'certificate': {
        // A "decision" signed by the attacker under validator indices.
        const sig = Uint8Array.from(randomBytes(64))
        const cut = this.net.validatorIds.map(hub => ({ hub, seq: 0, id: null }))
        const cert = encodeCertificate(this.net, { value: { epoch: i % 1000, prev: null, cut, root: randomBytes(32).toString('hex'), gov: [], state: randomBytes(32).toString('hex'), next: randomBytes(32).toString('hex') }, round: 0, signatures: this.net.validatorIds.map((_, k) => [k, sig]) })
        return [topics.certificates(id), cert]
      }
      case 'subscriptions': return [`/spam/${i}/${randomBytes(8).toString('hex')}`, new Uint8Array(0)]
    }
  }
}

/** Valid entry bytes of the hubs' logs (for replays and bit flips), fetched over the sync protocol. */
export async function validEntries (node: AttackPeer, net: Network, t: Target, max = 64): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  await node.dial(multiaddr(t.addr), { signal: AbortSignal.timeout(5000) })
  for (const hub of net.validatorIds) {
    const to = Math.ceil(max / net.validatorIds.length)
    for await (const f of entriesOf(node as any, peerIdFromString(t.peerId), net.id, { hub, from: 1, to }, { timeoutMs: 10_000 })) out.push(f)
  }
  return out
}

/** Opens `n` raw TCP sockets from `ip` and sends nothing (handshakes that never start). */
export function halfOpen (addr: { host: string, port: number }, ip: string, n: number): Socket[] {
  const out: Socket[] = []
  for (let i = 0; i < n; i++) {
    const s = connect({ host: addr.host, port: addr.port, localAddress: ip })
    s.on('error', () => {})
    out.push(s)
  }
  return out
}

export { varint } from '../lib/frames.js'
