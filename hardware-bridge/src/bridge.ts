import type { DeviceLinkStatus } from '@ecandle/api'
import type { DecodedReport, RefusalReason } from '@ecandle/protocol'

/**
 * The contract between the hub daemon and whatever brings device reports in
 * (the in-process emulator, serial lines, MQTT). The daemon implements BridgeHost;
 * each transport implements Bridge.
 *
 * Delivery is at-least-once on the wire and exactly-once in the log: a transport acks a report
 * to its device only when `submit` resolved 'stored' or 'duplicate' (the report is durably in
 * LevelDB); on 'refused' it tells the device why; on 'busy' it sends nothing and the device resends.
 */
export type SubmitResult =
  | { status: 'stored' }
  | { status: 'duplicate' }
  | { status: 'refused', reason: RefusalReason, message: string }
  | { status: 'busy' }

/** Why a hub refuses a report for good (the device must not resend it): `REFUSAL_REASONS` of the protocol. */
export type { RefusalReason }

export interface BridgeHost {
  /**
   * One report, decoded once by the link (which needs its device and counter to answer); the host
   * checks every rule but decoding. Resolves once the report is durable (or refused); never rejects.
   * Several reports of one device may be submitted at once (a device's window).
   */
  submit: (report: DecodedReport) => Promise<SubmitResult>
  /** Hub clock, unix ms: devices are kept in sync with it. */
  now: () => number
}

/** One device as a link sees it: the row of GET /devices (its schema is in @ecandle/api). */
export type { DeviceLinkStatus }

export interface Bridge {
  start: (host: BridgeHost) => Promise<void>
  stop: () => Promise<void>
  devices: () => DeviceLinkStatus[]
}
