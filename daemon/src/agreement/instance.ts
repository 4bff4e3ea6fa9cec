import { Tendermint, type DecideOutput, type InputMessage, type Message, type Output, type PersistentState, type Proposal, type Timeouts } from '@ecandle/consensus'
import type { EpochValue } from '@ecandle/protocol'
import type { Clock } from './clock.js'

/** What one epoch's state machine makes happen, carried out by the agreement (or a test). */
export interface InstanceEffects {
  /** Durably store the machine's persistent state; nothing is sent before this resolves. */
  persist: (state: PersistentState<EpochValue>) => Promise<void>
  /** Sign one of our messages (the bytes gossiped). */
  sign: (msg: Message<EpochValue>) => Uint8Array
  /** Send our recent signed messages. */
  publish: (msgs: readonly Uint8Array[]) => Promise<void>
  /** More than 2/3 precommitted a value. */
  decide: (d: DecideOutput<EpochValue>) => Promise<void>
  /** Two conflicting signed messages of one validator. */
  evidence: (first: Uint8Array, second: Uint8Array) => Promise<void>
}

export interface InstanceOptions {
  validators: readonly string[]
  self: string
  epoch: number
  timeouts: Timeouts
  /** The persisted state of this epoch, after a restart. */
  restore?: PersistentState<EpochValue>
  /**
   * While undecided, our messages are sent again when nothing was sent for this long. Tendermint
   * assumes every message is eventually delivered; gossip does not resend, so a step waiting for 2f+1
   * messages (no timeout armed) would otherwise wait forever for messages lost before the mesh formed
   * or during a partition.
   */
  rebroadcastMs: number
}

/**
 * One Tendermint instance for one epoch: feeds it messages and timeouts and executes its outputs in
 * order through InstanceEffects — persist (sync write) before anything is sent. Every method runs
 * under the agreement's one-at-a-time lock; timers go back through `enqueue`, which takes that lock.
 */
export class EpochInstance {
  readonly epoch: number
  /** valueId → valid(v), computed once per proposed value (outside the lock). */
  readonly verdicts = new Map<string, Promise<boolean>>()
  private readonly sm: Tendermint<EpochValue>
  private readonly own: Uint8Array[] = []
  private readonly timers = new Set<unknown>()
  private quiet?: unknown
  private done = false

  constructor (
    private readonly opts: InstanceOptions,
    private readonly effects: InstanceEffects,
    private readonly clock: Clock,
    private readonly enqueue: (fn: () => Promise<void>) => void
  ) {
    this.epoch = opts.epoch
    this.sm = new Tendermint<EpochValue>({ validators: opts.validators, self: opts.self, epoch: opts.epoch, timeouts: opts.timeouts, restore: opts.restore })
  }

  /** False once decided or stopped: nothing more happens. */
  get active (): boolean { return !this.done }
  get round (): number { return this.sm.round }
  /** Our signed messages so far (what a bundle carries). */
  get sent (): readonly Uint8Array[] { return this.own }

  async start (own: Proposal<EpochValue>): Promise<void> {
    await this.apply(this.sm.start(own))
  }

  async onMessage (m: InputMessage<EpochValue>): Promise<void> {
    if (this.done) return
    await this.apply(this.sm.onMessage(m))
  }

  stop (): void {
    this.done = true
    for (const t of this.timers) this.clock.clearTimeout(t)
    this.timers.clear()
    this.clock.clearTimeout(this.quiet)
  }

  private async apply (outputs: Array<Output<EpochValue>>): Promise<void> {
    let republish = false
    for (const o of outputs) {
      if (this.done) return
      switch (o.type) {
        case 'persist':
          await this.effects.persist(o.state)
          break
        case 'broadcast': {
          const bytes = this.effects.sign(o.msg)
          this.own.push(bytes)
          republish = true
          // Our own signed vote goes back in so a decision's precommits carry our signature too.
          if (o.msg.type !== 'proposal') await this.apply(this.sm.onMessage({ ...o.msg, signature: bytes }))
          break
        }
        case 'schedule-timeout': {
          const t = this.clock.setTimeout(() => {
            this.timers.delete(t)
            this.enqueue(async () => {
              if (this.done) return
              // A timeout means progress stalled: send all our messages again (gossip may have lost some).
              await this.publish()
              await this.apply(this.sm.onTimeout({ step: o.step, round: o.round }))
            })
          }, o.ms)
          this.timers.add(t)
          break
        }
        case 'decide':
          this.stop()
          await this.effects.decide(o)
          return
        case 'evidence': {
          const a = o.first.signature
          const b = o.second.signature
          if (a instanceof Uint8Array && b instanceof Uint8Array) await this.effects.evidence(a, b)
          break
        }
      }
    }
    if (republish && !this.done) await this.publish()
  }

  /** Sends our recent messages, and again after `rebroadcastMs` of quiet. */
  private async publish (): Promise<void> {
    this.clock.clearTimeout(this.quiet)
    if (this.own.length === 0) return
    this.quiet = this.clock.setTimeout(() => {
      this.enqueue(async () => { if (!this.done) await this.publish() })
    }, this.opts.rebroadcastMs)
    await this.effects.publish(this.own)
  }
}
