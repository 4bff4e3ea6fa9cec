import type { Message, PeerId, PubSub } from '@libp2p/interface'
import { TopicValidatorResult } from '@libp2p/interface'
import type { GossipsubEvents } from '@chainsafe/libp2p-gossipsub'
import { topicLabels, ValidationError, type TopicName } from '@ecandle/protocol'

/**
 * All gossipsub use goes through here (a later move to libp2p 3 touches this file only).
 *
 * Every message of a topic waits in that topic's bounded queue (GOSSIP_QUEUES) before its validator
 * runs; a full queue answers IGNORE `overloaded` (Lodestar's gossip queues are the model). A validator
 * throws the protocol's ValidationError: this adapter maps its action to the gossipsub result and
 * counts it by code; anything else is our bug, answered IGNORE and counted as `internal`. Nothing
 * ever throws into libp2p.
 */
export type GossipValidator = (data: Uint8Array, from: string) => Promise<void>

export interface GossipLogger { warn: (obj: object, msg: string) => void, debug: (obj: object, msg: string) => void }

export interface GossipQueueOptions {
  /** Messages waiting for their validator at most (running ones not counted). */
  maxLength: number
  /** Validations of the topic running at once. */
  concurrency: number
  /**
   * `fifo`: oldest first; a full queue refuses the message that arrives (order matters: log entries).
   * `lifo`: newest first; a full queue drops its oldest message (the newest votes are the useful ones).
   */
  type: 'fifo' | 'lifo'
}

/**
 * The queue of each topic. Worst-case memory is maxLength × the largest message: entries
 * 256 × 66 KiB, evidence 64 × 130 KiB, consensus bundles 128 × 128 KiB, certificates 32 × 256 KiB.
 */
export const GOSSIP_QUEUES: Readonly<Record<TopicName, GossipQueueOptions>> = {
  entries: { maxLength: 256, concurrency: 4, type: 'fifo' },
  evidence: { maxLength: 64, concurrency: 1, type: 'fifo' },
  consensus: { maxLength: 128, concurrency: 1, type: 'lifo' },
  certificates: { maxLength: 32, concurrency: 1, type: 'fifo' },
  // Operations, approvals and resolutions (docs/governance.md §11); resolutions are ≤ 266 KiB.
  governance: { maxLength: 64, concurrency: 1, type: 'fifo' }
}

/** A topic of no network we know (never subscribed by the hub; here so a caller's topic always has a queue). */
const OTHER_QUEUE: GossipQueueOptions = { maxLength: 64, concurrency: 1, type: 'fifo' }

/** What `/metrics` shows of one topic's queue. */
export interface GossipQueueStats {
  /** Short topic name (entries, evidence, consensus, certificates) or 'other'. */
  topic: string
  /** Messages waiting now. */
  length: number
  /** Validations running now. */
  running: number
  maxLength: number
  /** Messages answered IGNORE `overloaded` since start. */
  dropped: number
}

type Result = `${TopicValidatorResult}`

interface Job { data: Uint8Array, from: string, done: (result: TopicValidatorResult) => void }

/** A bounded queue in front of one topic's validator. */
class ValidationQueue {
  private readonly jobs: Job[] = []
  private running = 0
  dropped = 0

  constructor (readonly name: string, private readonly opts: GossipQueueOptions, private readonly run: (job: Job) => Promise<TopicValidatorResult>) {}

  async push (data: Uint8Array, from: string): Promise<TopicValidatorResult> {
    return await new Promise(resolve => {
      const job: Job = { data, from, done: resolve }
      if (this.running < this.opts.concurrency) { this.start(job); return }
      if (this.jobs.length >= this.opts.maxLength) {
        this.dropped++
        // fifo refuses the newcomer; lifo makes room by dropping the oldest waiting message.
        if (this.opts.type === 'fifo' || this.opts.maxLength === 0) { resolve(this.overloaded()); return }
        this.jobs.shift()?.done(this.overloaded())
      }
      this.jobs.push(job)
    })
  }

  stats (): GossipQueueStats {
    return { topic: this.name, length: this.jobs.length, running: this.running, maxLength: this.opts.maxLength, dropped: this.dropped }
  }

  /** Set by the adapter: counts the drop under `${topic} IGNORE overloaded`. */
  onOverloaded: () => void = () => {}

  private overloaded (): TopicValidatorResult {
    this.onOverloaded()
    return TopicValidatorResult.Ignore
  }

  private start (job: Job): void {
    this.running++
    void this.run(job).then(result => {
      job.done(result)
      this.running--
      const next = this.opts.type === 'fifo' ? this.jobs.shift() : this.jobs.pop()
      if (next !== undefined) this.start(next)
    })
  }
}

export class Gossip {
  /** `${topic} ${accept|reject|ignore} ${code}` -> count */
  readonly results = new Map<string, number>()
  private readonly queues = new Map<string, ValidationQueue>()
  private readonly names: Record<string, TopicName>
  /** Told of each REJECTed message's sender (the hub's defences hang up on a stranger that keeps sending them). */
  onReject: (peer: string) => void = () => {}

  constructor (private readonly pubsub: PubSub<GossipsubEvents>, private readonly log: GossipLogger, networkId: string) {
    this.names = topicLabels(networkId)
  }

  /** Subscribes with a validator behind the topic's bounded queue; gossipsub forwards only what it accepts. */
  subscribe (topic: string, validate: GossipValidator): void {
    const name = this.names[topic]
    const queue = new ValidationQueue(name ?? 'other', name === undefined ? OTHER_QUEUE : GOSSIP_QUEUES[name], async job => await this.validate(topic, validate, job))
    queue.onOverloaded = () => { this.count(topic, TopicValidatorResult.Ignore, 'overloaded') }
    this.queues.set(topic, queue)
    this.pubsub.topicValidators.set(topic, async (peer: PeerId, msg: Message) => await queue.push(msg.data, peer.toString()))
    this.pubsub.subscribe(topic)
  }

  /** Depth and drops of every subscribed topic's queue. */
  queueStats (): GossipQueueStats[] {
    return [...this.queues.values()].map(q => q.stats())
  }

  private async validate (topic: string, validate: GossipValidator, job: Job): Promise<TopicValidatorResult> {
    let result = TopicValidatorResult.Accept
    let code = 'ok'
    try {
      await validate(job.data, job.from)
    } catch (err) {
      if (err instanceof ValidationError) {
        code = err.code
        result = err.action === 'REJECT' ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
        if (result === TopicValidatorResult.Reject) {
          this.log.debug({ topic, peer: job.from, code, err: err.message }, 'gossip rejected')
          this.onReject(job.from)
        }
      } else {
        // Not a rule of ours: our bug, not the peer's. Ignore the message and say so; never crash.
        code = 'internal'
        result = TopicValidatorResult.Ignore
        this.log.warn({ topic, err: String((err as Error)?.stack ?? err) }, 'gossip validator failed')
      }
    }
    this.count(topic, result, code)
    return result
  }

  private count (topic: string, result: Result, code: string): void {
    const k = `${topic} ${result} ${code}`
    this.results.set(k, (this.results.get(k) ?? 0) + 1)
  }

  async publish (topic: string, data: Uint8Array): Promise<number> {
    try {
      const r = await this.pubsub.publish(topic, data)
      return r.recipients.length
    } catch (err) {
      // Duplicates and "no peers" are normal; sync repairs anything gossip missed.
      this.log.debug({ topic, err: String((err as Error)?.message ?? err) }, 'publish failed')
      return 0
    }
  }
}
