import type { Message, PeerId, PubSub } from '@libp2p/interface'
import { TopicValidatorResult } from '@libp2p/interface'
import type { GossipsubEvents } from '@chainsafe/libp2p-gossipsub'

/**
 * All gossipsub use goes through here (a later move to libp2p 3 touches this file only).
 * A validator throws an error with `action` 'REJECT' or 'IGNORE' (protocol's ValidationError);
 * this adapter maps it to the gossipsub result and counts it. Nothing ever throws into libp2p.
 */
export type GossipValidator = (data: Uint8Array, from: string) => Promise<void>

export interface GossipLogger { warn: (obj: object, msg: string) => void, debug: (obj: object, msg: string) => void }

export class Gossip {
  /** `${topic} ${ACCEPT|REJECT|IGNORE} ${code}` -> count */
  readonly results = new Map<string, number>()

  constructor (private readonly pubsub: PubSub<GossipsubEvents>, private readonly log: GossipLogger) {}

  /** Subscribes with a validator; `onValid` runs only for accepted messages (after validation). */
  subscribe (topic: string, validate: GossipValidator): void {
    this.pubsub.topicValidators.set(topic, async (peer: PeerId, msg: Message) => await this.run(topic, validate, peer, msg))
    this.pubsub.subscribe(topic)
  }

  private async run (topic: string, validate: GossipValidator, peer: PeerId, msg: Message): Promise<TopicValidatorResult> {
    let result = TopicValidatorResult.Accept
    let code = 'ok'
    try {
      await validate(msg.data, peer.toString())
    } catch (err: any) {
      code = typeof err?.code === 'string' ? err.code : 'internal'
      if (err?.action === 'REJECT') {
        result = TopicValidatorResult.Reject
        this.log.debug({ topic, peer: peer.toString(), code, err: err.message }, 'gossip rejected')
      } else {
        result = TopicValidatorResult.Ignore
        // An unexpected error is our bug, not the peer's: ignore the message, never crash.
        if (err?.action !== 'IGNORE') this.log.warn({ topic, err: String(err?.stack ?? err) }, 'gossip validator failed')
      }
    }
    const k = `${topic} ${result} ${code}`
    this.results.set(k, (this.results.get(k) ?? 0) + 1)
    return result
  }

  async publish (topic: string, data: Uint8Array): Promise<number> {
    try {
      const r = await this.pubsub.publish(topic, data)
      return r.recipients.length
    } catch (err: any) {
      // Duplicates and "no peers" are normal; sync repairs anything gossip missed.
      this.log.debug({ topic, err: String(err?.message ?? err) }, 'publish failed')
      return 0
    }
  }

  meshPeers (topic: string): number {
    return this.pubsub.getSubscribers(topic).length
  }
}
