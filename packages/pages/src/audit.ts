import { AuditPeer, AuditRequestError, runAudit, verdictJson, verdictLines, type AuditRequest, type AuditVerdict } from '@ecandle/audit'
import type { HubStatus } from '@ecandle/client'
import { backend, ed25519VerifyBatch } from '@ecandle/crypto'
import { parseNetwork, ProtocolError, type Network } from '@ecandle/protocol'
import { barChart } from './chart.js'
import { byId, fill, h, short } from './dom.js'
import './style.css'

/**
 * The backer's audit page: the network file and a hub's WebSockets address in, the verdict of
 * @ecandle/audit's runAudit (the code of `ecandle audit`) out, over a libp2p light peer in the
 * browser. Every failure is one message on the page: a bad network file, a hub that is not of
 * that network, an address that cannot be reached.
 */
const form = byId<HTMLFormElement>('form')
const fileInput = byId<HTMLInputElement>('network-file')
const textInput = byId<HTMLTextAreaElement>('network-text')
const peerInput = byId<HTMLInputElement>('peer')
const accountInput = byId<HTMLInputElement>('account')
const epochInput = byId<HTMLInputElement>('epoch')
const fullInput = byId<HTMLInputElement>('full')
const runButton = byId<HTMLButtonElement>('run')
const progress = byId('progress')
const message = byId('message')

let networkText: string | undefined

function showMessage (text: string): void {
  message.textContent = text
  message.hidden = false
  document.body.dataset.state = 'error'
}

function clearMessage (): void {
  message.hidden = true
  message.textContent = ''
}

/** The network file as a Network, or one sentence saying why not. */
function loadNetwork (): Network {
  const text = networkText ?? (textInput.value.trim() === '' ? undefined : textInput.value)
  if (text === undefined) throw new PageError('Choose the network file (network.json) first.')
  try {
    return parseNetwork(text)
  } catch (err) {
    if (err instanceof ProtocolError) throw new PageError(`This is not a valid network file: ${err.message}.`)
    throw err
  }
}

class PageError extends Error {}

function showNetworkInfo (): void {
  const info = byId('network-info')
  try {
    const net = loadNetwork()
    fill(info, `Network “${net.def.name}”, id ${net.id}: ${net.hubs.size} validators, ${net.devices.size} devices.`)
  } catch (err) {
    fill(info, err instanceof PageError ? err.message : String(err))
  }
}

fileInput.addEventListener('change', () => {
  const f = fileInput.files?.[0]
  if (f === undefined) return
  void f.text().then(t => {
    networkText = t
    textInput.value = ''
    showNetworkInfo()
  }, () => { showMessage('The network file could not be read.') })
})
textInput.addEventListener('input', () => {
  networkText = undefined
  showNetworkInfo()
})

function request (): AuditRequest {
  const account = accountInput.value.trim()
  const epoch = epochInput.value.trim()
  if (epoch !== '' && !/^[0-9]{1,9}$/.test(epoch)) throw new PageError(`The epoch must be a whole number, not “${epoch}”.`)
  if (account !== '' && !/^[0-9a-f]{64}$/.test(account)) throw new PageError('The account must be 64 lowercase hexadecimal characters (as in the network file).')
  if (fullInput.checked && epoch === '') throw new PageError('Re-verifying a whole epoch needs the epoch number.')
  return { account: account === '' ? undefined : account, epoch: epoch === '' ? undefined : Number(epoch), full: fullInput.checked }
}

function checkAddress (addr: string): void {
  if (addr === '') throw new PageError('Enter the WebSockets address of a hub of this network (…/tcp/PORT/ws/p2p/12D3KooW…).')
  if (!/\/wss?(\/|$)/.test(addr)) throw new PageError(`A browser reaches a hub only over WebSockets: “${addr}” has no /ws or /wss part. Ask the hub's operator for its WebSockets address (…/tcp/PORT/ws/p2p/…).`)
  if (!/\/p2p\/[1-9A-HJ-NP-Za-km-z]+$/.test(addr)) throw new PageError(`The address “${addr}” must end in /p2p/ and the hub's peer id.`)
}

/** A sentence for whatever stopped the audit (never a stack trace). */
function explainError (err: unknown, addr: string, net: Network | undefined): string {
  if (err instanceof PageError) return err.message
  if (err instanceof AuditRequestError) return err.message.replace(/^--account/, 'The account').replace(/^--full needs --epoch E/, 'Re-verifying a whole epoch needs the epoch number')
  if (err instanceof ProtocolError) {
    if (err.code === 'wrong-network') return `${err.message}. Is this the network file of the hub's network?`
    if (err.code === 'peer') return `Cannot reach the hub at ${addr}. Check the address, and that the hub listens on WebSockets and is up. (${err.message.replace(/^cannot reach [^:]+: /, '')})`
    return err.message
  }
  const m = String((err as Error)?.message ?? err)
  if (/abort|timeout/i.test(m)) return `The hub at ${addr} stopped answering${net === undefined ? '' : ` (network ${net.id})`}. Try again, or another hub.`
  return `The audit stopped: ${m}`
}

let running = false

form.addEventListener('submit', (ev) => {
  ev.preventDefault()
  if (running) return
  void run()
})

async function run (): Promise<void> {
  running = true
  runButton.disabled = true
  clearMessage()
  byId('result').hidden = true
  document.body.dataset.state = 'running'
  const addr = peerInput.value.trim()
  let net: Network | undefined
  let peer: AuditPeer | undefined
  try {
    net = loadNetwork()
    const req = request()
    checkAddress(addr)
    progress.textContent = `connecting to ${short(addr, 40)}…`
    peer = await AuditPeer.connect(net, addr, { timeoutMs: 15_000 })
    const started = performance.now()
    const verdict = await runAudit(net, peer, addr, req, {
      progress: (stage, done, total) => { progress.textContent = `${stage}: ${done}${total > 0 && stage !== 'certificates' ? ` of ${total}` : ''}` }
    })
    progress.textContent = `done in ${((performance.now() - started) / 1000).toFixed(1)} s`
    showVerdict(net, verdict)
  } catch (err) {
    progress.textContent = ''
    showMessage(explainError(err, addr, net))
  } finally {
    await peer?.close().catch(() => {})
    running = false
    runButton.disabled = false
  }
}

function showBackend (): void {
  fill(byId('crypto-backend'), `Signatures here are checked with ${backend() === 'webcrypto' ? 'your browser\'s WebCrypto Ed25519' : 'a pure-JavaScript Ed25519 (this page is not in a secure context, or the browser has no WebCrypto Ed25519)'}.`)
}

function showVerdict (net: Network, v: AuditVerdict): void {
  const verdict = byId('verdict')
  verdict.className = `state ${v.ok ? 'green' : 'red'}`
  verdict.textContent = v.ok
    ? `AUDIT PASSED: ${v.certificates.verified} certificates verified${v.account === undefined ? '' : `, account proven in ${v.account.epochs.length} epochs`}${v.epoch === undefined ? '' : `, epoch ${v.epoch.epoch} recomputed`}`
    : verdictLines(v)[0]
  const fig = (value: string, what: string): HTMLElement => h('div', { class: 'figure' }, h('b', {}, value), h('span', {}, what))
  const last = v.account?.epochs.filter(e => e.cumulative !== null).at(-1)
  fill(byId('summary'),
    fig(String(v.certificates.verified), `certificates (epochs 0..${v.certificates.lastEpoch ?? '–'})`),
    fig(String(net.validatorIds.length), 'validators in the network file'),
    v.account === undefined ? null : fig(last?.cumulative?.toString() ?? '0', 'earned in all (cumulative)'),
    v.epoch === undefined ? null : fig(String(v.epoch.reports), `reports of epoch ${v.epoch.epoch} re-verified`)
  )
  fill(byId('findings'), v.findings.length === 0
    ? null
    : h('div', {},
        h('h2', {}, `What failed (${v.findings.length})`),
        h('ul', { class: 'checks', id: 'finding-list' }, ...v.findings.map(f => h('li', { 'data-kind': f.kind, 'data-code': f.code },
          h('span', { class: 'badge red' }, f.kind), h('span', {}, h('b', {}, `${f.code}: `), f.message))))))
  const acc = byId('account-section')
  acc.hidden = v.account === undefined
  if (v.account !== undefined) {
    const epochs = v.account.epochs
    fill(byId('earnings-chart'), barChart(epochs.map(e => ({ label: String(e.epoch), value: e.amount ?? 0n, cumulative: e.cumulative ?? undefined, title: `epoch ${e.epoch}: ${e.amount === null ? 'no leaf (nothing earned yet)' : `earned ${e.amount}, cumulative ${e.cumulative}`}` })), { unit: 'tokens' }))
    // An epoch whose proof failed has no figures: its row names the failure instead.
    const failed = v.account.findings.filter(f => !epochs.some(e => e.epoch === f.epoch))
    const rows = [...epochs.map(e => ({ epoch: e.epoch, row: h('tr', {},
      h('td', {}, String(e.epoch)),
      h('td', { class: 'num' }, e.amount === null ? '–' : e.amount.toString()),
      h('td', { class: 'num' }, e.cumulative === null ? '–' : e.cumulative.toString()),
      h('td', { class: 'mono' }, short(e.root, 16))) })),
    ...failed.map(f => ({ epoch: f.epoch, row: h('tr', { class: 'silent' }, h('td', {}, String(f.epoch)), h('td', { class: 'num' }, 'FAILED'), h('td', { class: 'num' }, f.code), h('td', {}, 'not proven')) }))]
    fill(byId('earnings').querySelector('tbody')!, ...rows.sort((a, b) => a.epoch - b.epoch).map(r => r.row))
  }
  const ep = byId('epoch-section')
  ep.hidden = v.epoch === undefined
  if (v.epoch !== undefined) {
    const x = v.epoch
    fill(ep, h('h2', {}, `Epoch ${x.epoch}, re-verified`),
      h('p', {}, `${x.entries} entries and ${x.reports} reports fetched and verified (hub and device signatures, hash chains, cut ids); ${x.counted} reports counted.`),
      x.recomputedRoot === null ? null : h('p', { class: x.recomputedRoot === x.root ? 'message green' : 'message red' }, `Recomputed root ${x.recomputedRoot} ${x.recomputedRoot === x.root ? '= certified root' : `≠ certified root ${x.root}`}`))
  }
  byId('verdict-json').textContent = verdictJson(v)
  byId('result').hidden = false
  document.body.dataset.state = v.ok ? 'passed' : 'failed'
}

/** Fields from the address (?peer=…&account=…&epoch=…&full=1), and, when a hub served this page, its WebSockets addresses to pick from. */
async function prefill (): Promise<void> {
  const q = new URLSearchParams(location.search)
  peerInput.value = q.get('peer') ?? ''
  accountInput.value = q.get('account') ?? ''
  epochInput.value = q.get('epoch') ?? ''
  fullInput.checked = q.get('full') === '1'
  if (location.protocol !== 'http:' && location.protocol !== 'https:') return
  try {
    // A plain GET (no SDK client): the page stays small, and nothing here is trusted anyway.
    const res = await fetch(new URL('status', new URL('.', location.href)), { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(3000) })
    if (!res.ok) return
    const status = await res.json() as HubStatus
    const ws = status.addrs.filter(a => /\/wss?\//.test(a))
    fill(byId('peer-list'), ...ws.map(a => h('option', { value: a })))
    if (peerInput.value === '' && ws.length > 0) peerInput.value = ws[0]
  } catch {
    // Served by a plain static host, not a hub: nothing to offer.
  }
}

void prefill()
// An empty batch settles which Ed25519 this browser gives us (WebCrypto where it can).
void ed25519VerifyBatch([]).then(showBackend)
document.body.dataset.state = 'ready'
