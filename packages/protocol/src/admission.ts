import { rules } from './errors.js'
import type { EpochState } from './gov-state.js'
import { publicKeyFromPeerId } from './ids.js'
import type { Network } from './network.js'

/**
 * Who may log, and whose reports a log may carry (docs/governance.md §7). Log validation must give
 * every hub the same answer for an entry sooner or later, whatever it has decided so far: an entry
 * REJECTed by one hub and appended by another splits the logs the cuts are made of. So these rules
 * use only facts that never change once decided (a device's key, rating and first epoch; a hub's
 * first and last epoch), REJECT only what is certain, IGNORE (retry later) what a decision the hub
 * has not yet seen could still allow. Which hub a device reports through and whether it is retired
 * change by vote; the tally of each epoch judges those with the registry in force (reasons
 * `wrong-hub`, `retired`, `not-yet-registered`), so it is the final authority.
 */

/** Codes of who may log (an entry's hub): REJECT but `hub-removed` and `hub-pending` (IGNORE). */
export const HUB_ADMISSION_CODES = ['unknown-hub', 'hub-not-yet-validator', 'hub-removed', 'hub-pending'] as const
/** Codes of whose reports a log may carry: REJECT but `device-pending` (IGNORE); `wrong-hub` only by the network file's rules. */
export const DEVICE_ADMISSION_CODES = ['unregistered-device', 'wrong-hub', 'not-yet-registered', 'device-pending'] as const
export const ADMISSION_CODES = [...HUB_ADMISSION_CODES, ...DEVICE_ADMISSION_CODES] as const
export type HubAdmissionCode = typeof HUB_ADMISSION_CODES[number]
export type DeviceAdmissionCode = typeof DEVICE_ADMISSION_CODES[number]
export type AdmissionCode = typeof ADMISSION_CODES[number]

const hubRule = rules<HubAdmissionCode>()
const deviceRule = rules<DeviceAdmissionCode>()

export interface DeviceKey {
  publicKey: Uint8Array
  ratedWhPerDay: number
}

/** What entry and report validation asks about hubs and devices. Each method throws a ValidationError to refuse. */
export interface EntryLookup {
  /** The key of `hub` if its log may hold an entry stamped with epoch `stamp`. */
  hubKey: (hub: string, stamp: number) => Uint8Array
  /** The key and rating of `device` if `hub`'s log may carry its report in an entry stamped `stamp`. */
  device: (device: string, hub: string, stamp: number) => DeviceKey
}

const lookups = new WeakMap<Network, EntryLookup>()

/** The network file's hubs and devices, fixed: what a node that follows no governance checks (and the rules before it). */
export function genesisLookup (net: Network): EntryLookup {
  let l = lookups.get(net)
  if (l === undefined) {
    l = {
      hubKey: (hub) => {
        const h = net.hubs.get(hub)
        if (h === undefined) throw hubRule.reject('unknown-hub', `entry: ${hub.slice(0, 60)} is not a hub of this network`)
        return h.publicKey
      },
      device: (device, hub) => {
        const d = net.devices.get(device)
        if (d === undefined) throw deviceRule.reject('unregistered-device', `report: device ${device} is not registered`)
        if (d.info.hub !== hub) throw deviceRule.reject('wrong-hub', `report: device ${device} is registered to another hub`)
        return { publicKey: d.publicKey, ratedWhPerDay: d.info.ratedWhPerDay }
      }
    }
    lookups.set(net, l)
  }
  return l
}

/**
 * The admission rules on the newest state a node holds: `latest` = S(L+1), where L is the last epoch
 * it has decided (or adopted a certificate of). It knows the registry up to epoch L+1 and the
 * validator sets up to L+2, and every fact below is final once it knows it.
 */
export function admissionLookup (latest: EpochState): EntryLookup {
  const knownRegistry = latest.epoch
  const knownSet = latest.epoch + 1
  return {
    hubKey: (hub, stamp) => {
      const h = latest.hubs.get(hub)
      if (h === undefined) {
        // Sets are known up to L+2: a hub not in any of them is no validator at `stamp` for good.
        if (stamp <= knownSet) throw hubRule.reject('unknown-hub', `entry: ${hub.slice(0, 60)} is not a validator of epoch ${stamp}`)
        // A decision we have not seen may still add it.
        throw hubRule.ignore('hub-pending', `entry: ${hub.slice(0, 60)} stamped ${stamp}; validators known up to epoch ${knownSet}`)
      }
      if (stamp < h.from) throw hubRule.reject('hub-not-yet-validator', `entry: ${hub.slice(0, 60)} is a validator from epoch ${h.from}, entry stamped ${stamp}`)
      // After its last epoch a hub's entries are in no cut; IGNORE, not REJECT: a peer that has not yet seen
      // the removal may have forwarded it in good faith, and diverging copies of a log no cut names are harmless.
      if (h.until !== null && stamp >= h.until) throw hubRule.ignore('hub-removed', `entry: ${hub.slice(0, 60)} is no validator from epoch ${h.until}`)
      return validatorKey(latest, hub)
    },
    device: (device, _hub, stamp) => {
      const d = latest.registry.devices.get(device)
      if (d === undefined) {
        if (stamp <= knownRegistry) throw deviceRule.reject('unregistered-device', `report: device ${device} is not registered in epoch ${stamp}`)
        throw deviceRule.ignore('device-pending', `report: device ${device} unknown; registry known up to epoch ${knownRegistry}, entry stamped ${stamp}`)
      }
      // `since` is final once decided; an honest hub never logs a device before it.
      if (stamp < d.since) throw deviceRule.reject('not-yet-registered', `report: device ${device} is registered from epoch ${d.since}, entry stamped ${stamp}`)
      return { publicKey: d.key, ratedWhPerDay: d.ratedWhPerDay }
    }
  }
}

function validatorKey (s: EpochState, hub: string): Uint8Array {
  const v = s.validators.byId.get(hub) ?? s.next.byId.get(hub)
  if (v !== undefined) return v.publicKey
  // Removed before the sets the state holds: the key is in the peer id.
  return publicKeyFromPeerId(hub)
}

/** Why a hub refuses a report from its own device link (local policy, no gossip verdict), or undefined to take it. */
export type LinkRefusal = 'unregistered-device' | 'not-yet-registered' | 'wrong-hub' | 'retired'

/**
 * Whether `self` should take a report from a device link now, for an entry stamped `epoch`: the device
 * must be registered to `self` and live in the newest registry it knows. Reports it takes are
 * still judged by the tally of the epoch that counts them.
 */
export function linkRefusal (latest: EpochState, device: string, self: string, epoch: number): LinkRefusal | undefined {
  const d = latest.registry.devices.get(device)
  if (d === undefined) return 'unregistered-device'
  if (epoch < d.since) return 'not-yet-registered'
  if (d.retired !== null && epoch >= d.retired) return 'retired'
  if (d.hub !== self) return 'wrong-hub'
  return undefined
}
