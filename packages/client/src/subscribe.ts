import { gossipMessageId, gossipsubInterop, ValidationError, type GossipsubInteropOptions, type Network } from '@ecandle/protocol'
import type { Message } from '@libp2p/interface'
import { decodeCertificateMessage, decodeEntryMessage, decodeEvidenceMessage, type CertificateMessage, type EntryMessage, type EvidenceMessage } from './decode.js'
import { networkTopics } from './topics.js'

/**
 * Following a network's gossip from any libp2p 2.x node with gossipsub at `node.services.pubsub`.
 *
 * The SDK OBSERVES ONLY: it registers no gossipsub topic validator, so your node accepts and
 * forwards messages as gossipsub does by default, and the SDK verifies each message after delivery
 * and before your handlers see it. A hub penalises peers that forward invalid messages, so an app
 * that keeps many mesh links to untrusted peers should add its own validator (see
 * docs/protocol.md §5 for the REJECT/IGNORE rules); an app that only dials hubs needs none.
 */

/** Gossip message id of the network: sha256 of the message bytes (hubs use exactly this). */
export const messageId = gossipMessageId

export type { GossipsubInteropOptions }

/**
 * Options for `gossipsub(...)` of `@chainsafe/libp2p-gossipsub` (14.x). `extra` is merged in, but the
 * three interoperability settings (signature policy, message id functions) always win.
 */
export function gossipsubConfig (): GossipsubInteropOptions
export function gossipsubConfig<T extends object> (extra: T): Omit<T, keyof GossipsubInteropOptions> & GossipsubInteropOptions
export function gossipsubConfig (extra: object = {}): GossipsubInteropOptions {
  const { globalSignaturePolicy, msgIdFn, fastMsgIdFn, ...defaults } = gossipsubInterop
  return { ...defaults, ...extra, globalSignaturePolicy, msgIdFn, fastMsgIdFn }
}

/** What the SDK needs of a pubsub service (libp2p 2.x `PubSub`, e.g. gossipsub). */
export interface PubSubLike {
  globalSignaturePolicy?: string
  subscribe: (topic: string) => void
  unsubscribe: (topic: string) => void
  getTopics: () => string[]
  addEventListener: (type: 'message', listener: (evt: CustomEvent<Message>) => void) => void
  removeEventListener: (type: 'message', listener: (evt: CustomEvent<Message>) => void) => void
}

export interface NodeWithPubSub { services: { pubsub: PubSubLike } }

type Handler<T> = (msg: T) => void | Promise<void>

interface Route { decode: (bytes: Uint8Array) => unknown, handle: Handler<unknown>, counter: 'entries' | 'certificates' | 'evidence' }

export interface NetworkHandlers {
  /** A verified log entry of any hub. Subscribes to the entries topic. */
  onEntry?: Handler<EntryMessage>
  /** A verified epoch certificate. Subscribes to the certificates topic. */
  onCertificate?: Handler<CertificateMessage>
  /** Verified evidence of equivocation. Subscribes to the evidence topic. */
  onEvidence?: Handler<EvidenceMessage>
  /** A message that failed verification (err.code names the rule; err.action REJECT or IGNORE). */
  onInvalid?: (err: ValidationError, msg: { topic: string, bytes: Uint8Array }) => void
  /** A handler threw or rejected. Default: printed with console.error. Never thrown into libp2p. */
  onError?: (err: unknown, ctx: { topic: string }) => void
}

export interface SubscribeOptions {
  /** Aborting it unsubscribes. */
  signal?: AbortSignal
  /** Messages waiting to be verified and handled; when full, new ones are dropped and counted. Default 1024. */
  maxQueue?: number
  /** Same bound in bytes. Default 32 MiB. */
  maxQueueBytes?: number
}

export interface SubscriptionStats {
  /** Messages delivered on our topics. */
  received: number
  entries: number
  certificates: number
  evidence: number
  /** Failed verification (onInvalid was called). */
  invalid: number
  /** Dropped because the queue was full (handlers too slow). */
  dropped: number
  handlerErrors: number
}

/** Stops the subscription; `stats` keeps counting until then. */
export type Unsubscribe = (() => void) & { readonly stats: Readonly<SubscriptionStats> }

// Topic subscriptions are shared: two subscribeNetwork calls (or the app itself) may want one topic.
const refs = new WeakMap<PubSubLike, Map<string, number>>()

function acquire (pubsub: PubSubLike, topic: string): void {
  let m = refs.get(pubsub)
  if (m === undefined) refs.set(pubsub, m = new Map())
  const n = m.get(topic) ?? (pubsub.getTopics().includes(topic) ? 1 : 0) // subscribed by the app itself: never ours to drop
  m.set(topic, n + 1)
  if (n === 0) pubsub.subscribe(topic)
}

function release (pubsub: PubSubLike, topic: string): void {
  const m = refs.get(pubsub)
  const n = m?.get(topic) ?? 0
  if (m === undefined || n === 0) return
  if (n === 1) {
    m.delete(topic)
    pubsub.unsubscribe(topic)
  } else m.set(topic, n - 1)
}

const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

/**
 * Subscribes `node` to the network's topics for the given handlers, verifies every message with the
 * decoders of this package, and calls the handlers one message at a time, in arrival order.
 * Returns the function that unsubscribes (also done when `opts.signal` aborts).
 */
export function subscribeNetwork (node: NodeWithPubSub, net: Network, handlers: NetworkHandlers, opts: SubscribeOptions = {}): Unsubscribe {
  const pubsub = node?.services?.pubsub
  if (pubsub === undefined || typeof pubsub.subscribe !== 'function') throw new TypeError('subscribeNetwork: node.services.pubsub is not a pubsub service (configure gossipsub as `services.pubsub`)')
  if (pubsub.globalSignaturePolicy !== undefined && pubsub.globalSignaturePolicy !== 'StrictNoSign') {
    throw new TypeError(`subscribeNetwork: gossipsub uses ${pubsub.globalSignaturePolicy}; hubs publish unsigned messages, so pass gossipsubConfig() to gossipsub()`)
  }
  const t = networkTopics(net)
  const stats: SubscriptionStats = { received: 0, entries: 0, certificates: 0, evidence: 0, invalid: 0, dropped: 0, handlerErrors: 0 }
  const wanted = new Map<string, Route>()
  const route = <T>(topic: string, decode: (b: Uint8Array) => T, handle: Handler<T> | undefined, counter: 'entries' | 'certificates' | 'evidence'): void => {
    if (handle !== undefined) wanted.set(topic, { decode, handle: handle as Handler<unknown>, counter })
  }
  route(t.entries, b => decodeEntryMessage(net, b), handlers.onEntry, 'entries')
  route(t.certificates, b => decodeCertificateMessage(net, b), handlers.onCertificate, 'certificates')
  route(t.evidence, b => decodeEvidenceMessage(net, b), handlers.onEvidence, 'evidence')
  if (wanted.size === 0) throw new TypeError('subscribeNetwork: give at least one of onEntry, onCertificate, onEvidence')

  const maxQueue = opts.maxQueue ?? 1024
  const maxQueueBytes = opts.maxQueueBytes ?? 32 * 1024 * 1024
  const queue: Array<{ topic: string, bytes: Uint8Array }> = []
  let queuedBytes = 0
  let draining = false
  let closed = false

  const report = (err: unknown, topic: string): void => {
    stats.handlerErrors++
    try {
      if (handlers.onError !== undefined) handlers.onError(err, { topic })
      else console.error(`@ecandle/client: a message on ${topic} failed in its handler:`, err)
    } catch {}
  }

  const drain = async (): Promise<void> => {
    draining = true
    try {
      while (!closed && queue.length > 0) {
        const m = queue.shift()!
        queuedBytes -= m.bytes.byteLength
        const r = wanted.get(m.topic)!
        let decoded: unknown
        try {
          decoded = r.decode(m.bytes)
        } catch (err) {
          if (err instanceof ValidationError) {
            stats.invalid++
            try { handlers.onInvalid?.(err, m) } catch (e) { report(e, m.topic) }
          } else report(err, m.topic)
          await tick()
          continue
        }
        stats[r.counter]++
        try {
          await r.handle(decoded)
        } catch (err) {
          report(err, m.topic)
        }
        // Verifying a full entry takes milliseconds: let libp2p breathe between messages.
        await tick()
      }
    } finally {
      draining = false
    }
  }

  const listener = (evt: CustomEvent<Message>): void => {
    try {
      const msg = evt.detail
      if (closed || !wanted.has(msg.topic)) return
      stats.received++
      if (queue.length >= maxQueue || queuedBytes + msg.data.byteLength > maxQueueBytes) { stats.dropped++; return }
      queue.push({ topic: msg.topic, bytes: msg.data })
      queuedBytes += msg.data.byteLength
      if (!draining) void drain()
    } catch {}
  }

  const unsubscribe = (): void => {
    if (closed) return
    closed = true
    opts.signal?.removeEventListener('abort', unsubscribe)
    queue.length = 0
    queuedBytes = 0
    try { pubsub.removeEventListener('message', listener) } catch {}
    for (const topic of wanted.keys()) {
      try { release(pubsub, topic) } catch {}
    }
  }
  const result = Object.assign(unsubscribe, { stats }) as Unsubscribe
  if (opts.signal?.aborted === true) { closed = true; return result }

  pubsub.addEventListener('message', listener)
  for (const topic of wanted.keys()) acquire(pubsub, topic)
  opts.signal?.addEventListener('abort', unsubscribe, { once: true })
  return result
}
