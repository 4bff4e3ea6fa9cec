import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseNetwork } from '@ecandle/protocol'
import type { EpochSummary } from '@ecandle/client'
import { printTailsOnFailure, runCli, Testnet, waitFor, type TestHub } from './lib/testnet.js'

/**
 * Recovery when the quorum is gone for good (docs/governance.md §8), with real hub processes:
 * 4 validators, 2 of them gone for good; `ecandle network continue` carries the last certified
 * epoch into a new network of the 2 that remain, endorsed by their operators; the hubs refuse it
 * until it is fully endorsed, then decide again; an account's audit spans both networks.
 */

const EPOCH_S = 4

interface Accounts { operators: Array<{ seed: string, account: string }>, backers: Array<{ seed: string, account: string }> }

async function lastEpoch (h: TestHub): Promise<number> { return (await h.status()).lastEpoch ?? -1 }

async function cli (args: string[]): Promise<string> {
  const r = await runCli(args, { timeoutMs: 90_000 })
  assert.equal(r.code, 0, `ecandle ${args.join(' ')}: ${r.stderr}${r.stdout}`)
  return r.stdout
}

describe('a network continued after 2 of its 4 hubs are gone for good', function () {
  let tn: Testnet

  before(async function () {
    this.timeout(60_000)
    tn = await Testnet.create({ hubs: 4, devicesPerHub: 1, epochLengthS: EPOCH_S, gracePeriodS: 1, reportIntervalS: 1, entryIntervalMs: 500 })
    await tn.start()
  })
  afterEach(function () { printTailsOnFailure(this, tn) })
  after(async function () {
    this.timeout(30_000)
    await tn?.destroy()
  })

  it('decides again on the continued network, and an account\'s audit spans both', async function () {
    this.timeout(180_000)
    const [h1, h2, h3, h4] = tn.hubs
    const acc = JSON.parse(await readFile(join(tn.dir, 'accounts.json'), 'utf8')) as Accounts
    const key = async (name: string, seed: string): Promise<string> => {
      const p = join(tn.dir, name)
      await writeFile(p, JSON.stringify({ seed }) + '\n', { mode: 0o600 })
      return p
    }
    const op1 = await key('op1.key', acc.operators[0].seed)
    const op2 = await key('op2.key', acc.operators[1].seed)
    // An epoch decided on both in which the backer earned (under load the first epochs may pass before any report).
    const backer = acc.backers[0].account
    const earned = async (h: TestHub): Promise<boolean> => {
      const e = await lastEpoch(h)
      if (e < 1) return false
      const r = await h.get(`/epochs/${e}/rewards`) as { accounts: Array<{ account: string, cumulative: string }> }
      return r.accounts.some(a => a.account === backer && BigInt(a.cumulative) > 0n)
    }
    await waitFor('an epoch ≥ 1 decided on hub-1 and hub-2 in which the backer has earned', async () => (await earned(h1)) && (await earned(h2)), { timeoutMs: 60_000 })
    // Two communities leave for good: nothing can be decided any more (3 of 4 are needed).
    await h3.kill()
    await h4.kill()
    const E = Math.max(await lastEpoch(h1), await lastEpoch(h2))
    await waitFor(`hub-1 and hub-2 both at epoch ${E}`, async () => (await lastEpoch(h1)) === E && (await lastEpoch(h2)) === E, { timeoutMs: 20_000 })
    // hub-1 stops; its database is what the continuation is made from. hub-2 still serves the old network.
    await h1.stop()
    const next = join(tn.dir, 'continued.json')
    const made = await cli(['network', 'continue', '--data-dir', h1.dir, '--from-epoch', String(E), '--remaining', h1.peerId, h2.peerId, '--name', 'ecandle-continued', '--out', next, '--operator-key', op1])
    assert.match(made, /not runnable yet: .*not endorsed/)
    // A hub refuses to run a continuation its operators have not all endorsed.
    const refused = await runCli(['network', 'switch', '--data-dir', h1.dir, '--network', next])
    assert.notEqual(refused.code, 0)
    assert.match(refused.stderr, /not endorsed/)
    const daemon = await runCli(['daemon', '--data-dir', h1.dir, '--network', next])
    assert.equal(daemon.code, 1, daemon.stdout + daemon.stderr)
    assert.match(daemon.stderr, /not endorsed by operator/)
    assert.match(await cli(['network', 'endorse', next, '--operator-key', op2]), /endorsed by every remaining operator/)
    const net2 = parseNetwork(await readFile(next, 'utf8'))
    assert.equal(net2.def.continues?.epoch, E)
    // The old network's history checks out, and the new file carries exactly what epoch E certified.
    const peer = (await h2.status()).addrs[0]
    const account = acc.backers[0].account
    const before = await runCli(['audit', '--network', tn.networkPath, '--peer', peer, '--account', account, '--continued', next, '--json'], { timeoutMs: 90_000 })
    assert.equal(before.code, 0, before.stdout + before.stderr)
    const oldAudit = JSON.parse(before.stdout) as { account: { epochs: Array<{ epoch: number, cumulative: string | null }> } }
    const carried = BigInt(oldAudit.account.epochs.find(x => x.epoch === E)!.cumulative!)
    assert.ok(carried > 0n, 'the account earned on the old network')
    // Both switch to the continued network and decide again.
    await h2.stop()
    for (const h of [h1, h2]) await cli(['network', 'switch', '--data-dir', h.dir, '--network', next])
    await h1.start()
    await h2.start()
    await waitFor('the continued network decides epochs 0 and 1', async () => (await lastEpoch(h1)) >= 1 && (await lastEpoch(h2)) >= 1, { timeoutMs: 60_000 })
    const e0 = await h1.get<EpochSummary>('/epochs/0')
    assert.deepEqual([...e0.signers].sort(), [h1.peerId, h2.peerId].sort())
    // The account's audit on the new network starts from the carried total.
    const peer2 = (await h1.status()).addrs[0]
    const after = await runCli(['audit', '--network', next, '--peer', peer2, '--account', account, '--epoch', '1', '--json'], { timeoutMs: 90_000 })
    assert.equal(after.code, 0, after.stdout + after.stderr)
    const newAudit = JSON.parse(after.stdout) as { network: string, account: { epochs: Array<{ epoch: number, amount: string | null, cumulative: string | null }> } }
    assert.equal(newAudit.network, net2.id)
    let sum = 0n
    let checked = 0
    for (const x of [...newAudit.account.epochs].sort((a, b) => a.epoch - b.epoch)) {
      sum += BigInt(x.amount ?? '0')
      if (x.cumulative === null) continue
      assert.equal(BigInt(x.cumulative), carried + sum, `epoch ${x.epoch} of the continued network: cumulative continues from the carried ${carried}`)
      checked++
    }
    assert.ok(checked > 0, `a leaf of the account on the continued network: ${after.stdout}`)
  })
})
