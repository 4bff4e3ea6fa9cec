import { certificateJson, explanationJson, type EpochRewardsJson, type EpochSummary, type EpochTotals, type Explanation, type RewardsJson } from '@ecandle/api'
import type { Network } from '@ecandle/protocol'
import { explain, proveAccount, type TallyResult } from '@ecandle/tally'
import type { Store } from '@ecandle/store'
import type { EpochRecord } from '../db/index.js'
import type { Agreement } from './agreement.js'
import { tallyOf } from './value.js'

/** Read-side of agreement for the API and CLI: decided epochs, rewards with proofs, explanations. */

export async function epochSummary (_net: Network, a: Agreement, epoch: number): Promise<EpochSummary | undefined> {
  const [rec, cert] = [await a.record(epoch), await a.certificate(epoch)]
  if (rec === undefined || cert === undefined) return undefined
  return {
    ...certificateJson(cert),
    totals: Object.fromEntries(Object.entries(rec.totals).map(([k, v]) => [k, String(v)])) as EpochTotals,
    certificate: Buffer.from(cert.bytes).toString('base64')
  }
}

/** Rebuilds the full tally of a decided epoch from the stored logs (for proofs and explanations). */
export async function recomputeEpoch (net: Network, store: Store, a: Agreement, epoch: number): Promise<{ rec: EpochRecord, result: TallyResult } | undefined> {
  const rec = await a.record(epoch)
  if (rec === undefined) return undefined
  const prev = epoch > 0 ? await a.record(epoch - 1) : undefined
  return { rec, result: await tallyOf(net, store, prev, rec.value, await a.stateOf(epoch)) }
}

/** An account's reward in a decided epoch, with its Merkle proof (from the record kept at decision time). */
export async function rewards (a: Agreement, account: string, epoch?: number): Promise<RewardsJson | undefined> {
  const e = epoch ?? a.lastDecided?.epoch
  if (e === undefined) return undefined
  const rec = await a.record(e)
  if (rec === undefined) return undefined
  const parts = { epoch: rec.epoch, accounts: rec.accounts, devices: rec.devices, totals: rec.totals }
  const row = rec.accounts.find(x => x.account === account)
  const proof = row === undefined ? undefined : proveAccount(parts, account)
  return {
    account,
    epoch: e,
    root: rec.value.root,
    epochAmount: String(row?.epochAmount ?? 0n),
    cumulative: String(row?.cumulative ?? 0n),
    proof: proof === undefined ? null : { leaf: Buffer.from(proof.leaf).toString('hex'), path: proof.path, root: proof.root }
  }
}

/** Every account's and device's reward in a decided epoch, from the record kept at decision time (no recomputation). */
export async function epochRewards (a: Agreement, epoch: number): Promise<EpochRewardsJson | undefined> {
  const rec = await a.record(epoch)
  if (rec === undefined) return undefined
  return {
    epoch,
    root: rec.value.root,
    accounts: rec.accounts.map(x => ({ account: x.account, epochAmount: String(x.epochAmount), cumulative: String(x.cumulative) })),
    devices: rec.devices.map(d => ({ device: d.device, countedMwh: String(d.countedMwh), reward: String(d.reward), capex: String(d.capex), opex: String(d.opex), capexAccount: d.capexAccount, opexAccount: d.opexAccount }))
  }
}

export async function explainDevice (net: Network, store: Store, a: Agreement, epoch: number, device: string): Promise<Explanation | undefined> {
  const r = await recomputeEpoch(net, store, a, epoch)
  return r === undefined ? undefined : explanationJson(explain(r.result, device))
}
