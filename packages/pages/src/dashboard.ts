import { decodeEvidenceMessage, HubApiError, HubClient, parseNetwork, type DeviceLinkStatus, type EpochRewardsJson, type EpochSummary, type Explanation, type GovList, type HubStatus, type Network, type NetworkJson, type PeerInfo } from '@ecandle/client'
import { fromBase64 } from '@ecandle/crypto'
import { barChart } from './chart.js'
import { ago, byId, fill, h, short, wh } from './dom.js'
import { healthChecks, nextEpochDueMs, secs, silentFor, worst, type Check, type DeviceRow } from './health.js'
import './style.css'

/**
 * The operator dashboard, served by the hub at /. Everything comes from this hub's API through the
 * SDK's HubClient (no other address is ever asked), and stays live over the /events stream:
 * entries refresh the figures and the devices, certificates the epochs and earnings, evidence the
 * evidence list. A timer re-judges health as time passes, so a device or hub that goes quiet
 * turns the page amber without any event.
 */
const base = new URL('.', location.href).href
const client = new HubClient(base, { timeoutMs: 8000 })
const query = new URLSearchParams(location.search)
const silentAfterS = clampInt(query.get('silentAfterS'), 120, 5, 86_400)
/** Epochs shown in the earnings charts. */
const EPOCHS_SHOWN = 24

function clampInt (v: string | null, dflt: number, min: number, max: number): number {
  const n = v === null ? NaN : Number(v)
  return Number.isInteger(n) && n >= min && n <= max ? n : dflt
}

const state = {
  api: false,
  live: false,
  status: undefined as HubStatus | undefined,
  peers: [] as PeerInfo[],
  devices: [] as DeviceLinkStatus[],
  netJson: undefined as NetworkJson | undefined,
  net: undefined as Network | undefined,
  epochs: [] as EpochSummary[],
  rewards: new Map<number, EpochRewardsJson>(),
  newestEntry: new Map<string, number>(),
  /** Per other hub: the smallest recent (our storedAt − their entry time), ms. */
  skew: new Map<string, number[]>(),
  /** Our devices heard of over the event stream (storedAt, our clock). */
  heard: new Map<string, number>(),
  remoteHealth: undefined as Check[] | undefined | null,
  account: query.get('account') ?? '',
  device: query.get('device') ?? '',
  explainKey: '',
  lastError: ''
}

// ---------- loading ----------

async function loadNetwork (): Promise<void> {
  const n = await client.networkDefinition()
  state.netJson = n
  try { state.net = parseNetwork(n.definition) } catch { state.net = undefined }
}

async function refreshCore (): Promise<void> {
  try {
    if (state.netJson === undefined) await loadNetwork()
    const [status, peers, devices] = await Promise.all([client.status(), client.peers(), client.devices()])
    const firstTime = state.status === undefined
    state.status = status
    state.peers = peers
    state.devices = devices
    state.api = true
    state.lastError = ''
    if (firstTime) await loadNewestEntries()
  } catch (err) {
    state.api = false
    state.lastError = err instanceof HubApiError ? err.message : String(err)
  }
  // The hub's own checks (where it has GET /health), at most every 10 s.
  if (state.remoteHealth !== null && Date.now() - healthAt > 10_000) { healthAt = Date.now(); await loadRemoteHealth() }
  render()
}

let healthAt = 0

/** The newest entry time of every log this hub holds (the event stream keeps it current afterwards). */
async function loadNewestEntries (): Promise<void> {
  const s = state.status
  if (s === undefined) return
  await Promise.all(Object.entries(s.heads).map(async ([hub, head]) => {
    try {
      const [e] = await client.log(hub, { from: head.seq, limit: 1 })
      if (e !== undefined) state.newestEntry.set(hub, Math.max(state.newestEntry.get(hub) ?? 0, e.time))
    } catch {}
  }))
}

/** GET /health: the hub's own checks (disk, key, database…) join ours; null when the hub has no such route. */
async function loadRemoteHealth (): Promise<void> {
  try {
    state.remoteHealth = (await client.health({ timeoutMs: 5000 })).checks
  } catch (err) {
    state.remoteHealth = err instanceof HubApiError && err.status === 404 ? null : undefined
  }
}

async function refreshEpochs (): Promise<void> {
  try {
    state.epochs = await client.epochs({ limit: EPOCHS_SHOWN })
    // Decided epochs never change: each epoch's rewards are fetched once.
    await Promise.all(state.epochs.filter(e => !state.rewards.has(e.epoch)).map(async e => {
      try { state.rewards.set(e.epoch, await client.epochRewards(e.epoch)) } catch {}
    }))
    for (const k of state.rewards.keys()) if (!state.epochs.some(e => e.epoch === k)) state.rewards.delete(k)
  } catch {}
  renderEarnings()
  renderEpochs()
}

async function refreshEvidence (): Promise<void> {
  let list: string[]
  try { list = await client.evidence() } catch { return }
  const rows = list.map(b64 => {
    try {
      if (state.net === undefined) throw new Error('no network')
      return decodeEvidenceMessage(state.net, fromBase64(b64))
    } catch {
      return undefined
    }
  })
  fill(byId('evidence'), list.length === 0
    ? h('p', { class: 'muted' }, 'None: no hub or device of this network has been caught signing two conflicting objects.')
    : h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'kind'), h('th', {}, 'offender'), h('th', { class: 'num' }, 'slot'))),
        h('tbody', {}, ...rows.map(r => r === undefined
          ? h('tr', {}, h('td', {}, 'undecodable'), h('td', {}, ''), h('td', {}, ''))
          : h('tr', {}, h('td', {}, r.kind), h('td', { class: 'mono' }, short(r.offender, 16)), h('td', { class: 'num' }, String(r.slot))))))))
}

/**
 * Governance: the operations that wait for this hub's approval (GET /gov: undecided, needing the
 * validators, this hub among those that have not approved). Hidden when the hub serves no /gov.
 */
async function refreshGovernance (): Promise<void> {
  const section = byId('governance-section')
  let list: GovList
  try {
    list = await client.gov()
  } catch (err) {
    section.hidden = err instanceof HubApiError && err.status === 404
    fill(byId('governance'), h('p', { class: 'muted' }, 'Could not read GET /gov.'))
    return
  }
  section.hidden = false
  const me = state.status?.peerId
  const waiting = list.operations.filter(o => o.status !== 'decided' && o.needsValidators && me !== undefined && o.notApprovedBy.includes(me))
  fill(byId('governance'), waiting.length === 0
    ? h('p', { class: 'muted' }, 'No operation is waiting for this hub\'s approval.')
    : h('ul', { class: 'checks' }, ...waiting.map(o => h('li', { 'data-op': o.id },
        h('span', { class: 'badge amber' }, 'waiting'),
        h('span', { class: 'mono' }, `${o.type} ${o.id.slice(0, 12)}…, approved by ${o.approvedBy.length} of the ${o.quorum} needed, until epoch ${o.exp}: ecandle gov approve ${o.id}`)))))
}

// ---------- live updates ----------

let coreTimer: ReturnType<typeof setTimeout> | undefined
function soon (fn: () => Promise<void>, which: 'core' | 'epochs' | 'evidence'): void {
  if (which === 'core') {
    if (coreTimer !== undefined) return
    coreTimer = setTimeout(() => { coreTimer = undefined; void fn() }, 250)
  } else {
    void fn()
  }
}

async function live (): Promise<void> {
  for (;;) {
    try {
      const events = client.events({ timeoutMs: 10_000 })
      state.live = true
      render()
      for await (const ev of events) {
        if (ev.type === 'entry') {
          const e = ev.data
          state.newestEntry.set(e.hub, Math.max(state.newestEntry.get(e.hub) ?? 0, e.time))
          const self = state.status?.peerId
          if (self !== undefined && e.hub !== self) {
            const list = state.skew.get(e.hub) ?? []
            list.push(e.storedAt - e.time)
            if (list.length > 20) list.shift()
            state.skew.set(e.hub, list)
          }
          if (e.hub === self) for (const id of e.reportIds) state.heard.set(id.slice(0, id.lastIndexOf(':')), e.storedAt)
          soon(refreshCore, 'core')
        } else if (ev.type === 'certificate') {
          soon(refreshEpochs, 'epochs')
          // A decision may have decided (or expired) operations; approvals arrive any time (the timer below).
          soon(refreshGovernance, 'epochs')
        } else if (ev.type === 'evidence') {
          soon(refreshEvidence, 'evidence')
        }
      }
    } catch {}
    state.live = false
    render()
    await new Promise(resolve => setTimeout(resolve, 2000))
  }
}

// ---------- rendering ----------

function hubName (peerId: string): string {
  const i = state.netJson?.definition.validators.findIndex(v => v.peerId === peerId) ?? -1
  return i < 0 ? `peer …${peerId.slice(-6)}` : `hub ${i + 1} (…${peerId.slice(-6)})`
}

function clockEstimate (): { skewMs: number, hubs: number } | undefined {
  const mins = [...state.skew.values()].filter(l => l.length > 0).map(l => Math.min(...l)).sort((a, b) => a - b)
  if (mins.length === 0) return undefined
  return { skewMs: mins[Math.floor(mins.length / 2)], hubs: mins.length }
}

function deviceRows (): DeviceRow[] {
  const self = state.status?.peerId
  const registered = (state.netJson?.definition.devices ?? []).filter(d => d.hub === self).map(d => d.id)
  const ids = [...new Set([...registered, ...state.devices.map(d => d.device)])]
  return ids.map(device => {
    const link = state.devices.find(d => d.device === device)
    const seen = Math.max(link?.lastReportAt ?? 0, state.heard.get(device) ?? 0)
    return { device, link, lastSeenMs: seen > 0 ? seen : undefined }
  })
}

function render (): void {
  const now = Date.now()
  const s = state.status
  const net = state.netJson?.definition
  if (s !== undefined && net !== undefined) {
    byId('title').textContent = `eCandle hub: ${net.name}`
    document.title = `${hubName(s.peerId)} · ${net.name}`
    byId('hub-id').textContent = `${s.validator ? hubName(s.peerId) : 'follower'} · ${s.peerId} · network ${s.network}`
  }
  const rows = deviceRows()
  let checks = healthChecks({ nowMs: now, api: state.api, live: state.live, status: s, peers: state.peers, devices: rows, net, newestEntry: state.newestEntry, clock: clockEstimate(), silentAfterS, hubName })
  if (Array.isArray(state.remoteHealth)) {
    const remote = state.remoteHealth
    const theirs = new Set(remote.map(c => c.check))
    // The hub's own clock estimate sees every entry; ours only those since this page opened.
    checks = [...checks.filter(c => !(c.check === 'clock' && theirs.has('clock'))), ...remote.filter(c => c.check === 'clock' || !checks.some(m => m.check === c.check))]
  }
  const level = state.api ? worst(checks) : 'red'
  const bad = checks.filter(c => c.level === level && level !== 'green')
  const headline = level === 'green'
    ? `Healthy: ${checks.find(c => c.check === 'peers')?.message ?? 'online'}; ${checks.find(c => c.check === 'epoch')?.message ?? ''}`
    : `${level === 'red' ? 'Problem' : 'Degraded'}: ${bad.map(c => c.message).join('; ')}`
  const st = byId('health-state')
  st.className = `state ${level}`
  st.textContent = state.api ? headline : `Problem: the hub's API does not answer${state.lastError === '' ? '' : ` (${state.lastError})`}`
  st.dataset.level = level
  fill(byId('health-checks'), ...checks.map(c => h('li', { 'data-check': c.check, 'data-level': c.level },
    h('span', { class: `badge ${c.level}` }, c.check), h('span', {}, c.message), c.fix === undefined || c.level === 'green' ? null : h('span', { class: 'fix' }, c.fix))))

  if (s !== undefined) {
    const fig = (id: string, value: string, what: string): HTMLElement => h('div', { class: 'figure' }, h('b', { id }, value), h('span', {}, what))
    const due = net === undefined ? undefined : nextEpochDueMs(net, s.lastEpoch)
    fill(byId('figures'),
      fig('fig-peers', String(s.peers), 'peers connected'),
      fig('fig-devices', String(s.devices), 'devices linked'),
      fig('fig-reports', String(s.reports), 'reports stored (all hubs)'),
      fig('fig-last-epoch', s.lastEpoch === null ? '–' : String(s.lastEpoch), 'last decided epoch'),
      due === undefined ? null : fig('fig-next-epoch', due.dueMs > now ? `in ${secs(due.dueMs - now)}` : `${secs(now - due.dueMs)} ago`, `epoch ${due.epoch} due`),
      fig('fig-evidence', String(s.evidence), 'evidence'))
  }
  renderDevices(rows, now)
}

function renderDevices (rows: DeviceRow[], now: number): void {
  const body = byId('devices').querySelector('tbody')!
  fill(body, ...rows.map(r => {
    const l = r.link
    const quiet = silentFor(r, now, silentAfterS)
    const seen = r.lastSeenMs === undefined ? 'never' : `${ago(now - r.lastSeenMs)} ago`
    return h('tr', { class: quiet === undefined ? undefined : 'silent', 'data-device': r.device, 'data-silent': quiet === undefined ? 'no' : 'yes' },
      h('td', { class: 'mono' }, r.device),
      h('td', {}, l === undefined ? 'not linked' : `${l.link}${l.connected ? '' : ' (disconnected)'}`),
      h('td', {}, quiet === undefined ? seen : `SILENT · ${seen}`),
      h('td', { class: 'num' }, l?.batteryMv === undefined ? '–' : `${(l.batteryMv / 1000).toFixed(2)} V`),
      h('td', { class: 'num' }, l?.soc === undefined ? '–' : `${l.soc} %`),
      h('td', { class: 'num' }, l?.energyTodayMwh === undefined ? '–' : wh(l.energyTodayMwh)),
      h('td', { class: 'num' }, l?.counter === undefined ? '–' : String(l.counter)),
      h('td', {}, l?.lastRefusal === undefined ? '–' : `${l.lastRefusal}${l.lastRefusalCounter === undefined ? '' : ` (#${l.lastRefusalCounter})`}`))
  }))
  const silent = rows.filter(r => silentFor(r, now, silentAfterS) !== undefined).length
  byId('devices-note').textContent = `${rows.length} devices; ${silent} silent (no report for more than ${secs(silentAfterS * 1000)}; set with ?silentAfterS=N).`
}

function accountChoices (): Array<{ account: string, label: string }> {
  const net = state.netJson?.definition
  const self = state.status?.peerId
  if (net === undefined) return []
  const out: Array<{ account: string, label: string }> = []
  const add = (account: string, label: string): void => { if (!out.some(o => o.account === account)) out.push({ account, label }) }
  const op = net.validators.find(v => v.peerId === self)?.operator
  if (op !== undefined) add(op, `operator of this hub (${short(op, 8)})`)
  for (const d of net.devices.filter(x => x.hub === self)) {
    add(d.capex, `capex of ${d.id} (${short(d.capex, 8)})`)
    add(d.opex, `opex of ${d.id} (${short(d.opex, 8)})`)
  }
  if (state.account !== '' && !out.some(o => o.account === state.account)) add(state.account, short(state.account, 16))
  return out
}

function syncSelect (sel: HTMLSelectElement, options: Array<{ value: string, label: string }>, current: string): string {
  const want = options.some(o => o.value === current) ? current : options[0]?.value ?? ''
  const same = sel.options.length === options.length && options.every((o, i) => sel.options[i].value === o.value)
  if (!same) fill(sel, ...options.map(o => h('option', { value: o.value }, o.label)))
  sel.value = want
  return want
}

function renderEarnings (): void {
  const epochs = [...state.rewards.values()].sort((a, b) => a.epoch - b.epoch)
  state.account = syncSelect(byId<HTMLSelectElement>('account-select'), accountChoices().map(c => ({ value: c.account, label: c.label })), state.account)
  const self = state.status?.peerId
  const devices = (state.netJson?.definition.devices ?? []).filter(d => d.hub === self).map(d => d.id)
  state.device = syncSelect(byId<HTMLSelectElement>('device-select'), devices.map(d => ({ value: d, label: d })), state.device)
  const acct = state.account
  const pts = epochs.map(e => {
    const row = e.accounts.find(a => a.account === acct)
    return { label: String(e.epoch), value: BigInt(row?.epochAmount ?? '0'), cumulative: BigInt(row?.cumulative ?? '0'), title: `epoch ${e.epoch}: earned ${row?.epochAmount ?? '0'}, cumulative ${row?.cumulative ?? '0'}` }
  })
  fill(byId('account-chart'), epochs.length === 0 ? h('p', { class: 'muted' }, 'No decided epoch yet.') : barChart(pts, { unit: 'tokens' }))
  const last = epochs.at(-1)
  const lastRow = last?.accounts.find(a => a.account === acct)
  const ws = state.status?.addrs.find(a => /\/wss?\//.test(a))
  const auditUrl = `./audit?${new URLSearchParams({ account: acct, ...(ws === undefined ? {} : { peer: ws }) }).toString()}`
  fill(byId('account-figures'),
    h('div', { class: 'figure' }, h('b', { id: 'earn-cumulative', 'data-epoch': String(last?.epoch ?? '') }, lastRow?.cumulative ?? '0'), h('span', {}, `earned in all, up to epoch ${last?.epoch ?? '–'}`)),
    h('div', { class: 'figure' }, h('b', { id: 'earn-last' }, lastRow?.epochAmount ?? '0'), h('span', {}, `earned in epoch ${last?.epoch ?? '–'}`)),
    h('div', { class: 'figure' }, h('b', {}, h('a', { href: auditUrl }, 'prove it')), h('span', {}, 'check against the signatures, trusting no hub')))
  const dev = state.device
  const dpts = epochs.map(e => {
    const row = e.devices.find(d => d.device === dev)
    return { label: String(e.epoch), value: BigInt(row?.reward ?? '0'), title: `epoch ${e.epoch}: ${row === undefined ? 'earned nothing' : `reward ${row.reward} for ${row.countedMwh} mWh (capex ${row.capex}, opex ${row.opex})`}` }
  })
  fill(byId('device-chart'), dev === '' || epochs.length === 0 ? null : barChart(dpts, { unit: 'tokens' }))
  // Why: the tally's explanation of the device's most recent epoch that earned nothing (else the last).
  const zero = [...epochs].reverse().find(e => !e.devices.some(d => d.device === dev && d.reward !== '0'))
  const target = zero ?? last
  if (dev !== '' && target !== undefined) void explainDevice(dev, target.epoch)
}

async function explainDevice (device: string, epoch: number): Promise<void> {
  const key = `${device}@${epoch}`
  if (state.explainKey === key) return
  state.explainKey = key
  let x: Explanation
  try {
    x = await client.explain(epoch, device)
  } catch (err) {
    fill(byId('explain'), h('p', { class: 'muted' }, `No explanation for ${device} in epoch ${epoch}: ${err instanceof HubApiError ? err.serverMessage : String(err)}`))
    return
  }
  if (state.explainKey !== key) return
  const notCounted = x.reports.filter(r => r.status !== 'counted')
  const summary = Object.entries(x.byStatus).map(([k, n]) => `${k} ${n}`).join(', ')
  fill(byId('explain'),
    h('h2', {}, `Why: ${device} in epoch ${epoch}`),
    h('p', { id: 'explain-summary' }, x.reports.length === 0
      ? 'No report of this device in the epoch\'s segment: it was silent, or its reports reached the logs after the cut.'
      : `${x.reports.length} reports: ${summary}. ${x.row === null ? 'Nothing counted: no reward.' : `Counted ${x.row.countedMwh} mWh: reward ${x.row.reward} (capex ${x.row.capex}, opex ${x.row.opex}).`}`),
    notCounted.length === 0 ? null : h('ul', { class: 'checks', id: 'explain-refused' }, ...notCounted.map(r => h('li', {}, h('span', { class: 'badge amber' }, r.reason ?? r.status), h('span', { class: 'mono' }, `counter ${r.counter} (${short(r.hub, 8)}#${r.seq}.${r.index})`)))),
    h('details', {}, h('summary', {}, 'tally --explain'), h('pre', {}, x.text)))
}

function renderEpochs (): void {
  const n = state.netJson?.definition.validators.length ?? 0
  fill(byId('epochs').querySelector('tbody')!, ...[...state.epochs].reverse().slice(0, 12).map(e => h('tr', { 'data-epoch': String(e.epoch) },
    h('td', {}, String(e.epoch)),
    h('td', {}, `${e.signers.length} of ${n}`),
    h('td', { class: 'num' }, wh(BigInt(e.totals.countedMwh))),
    h('td', { class: 'num' }, e.totals.paid),
    h('td', { class: 'mono' }, short(e.root, 16)))))
}

byId<HTMLSelectElement>('account-select').addEventListener('change', (ev) => { state.account = (ev.target as HTMLSelectElement).value; renderEarnings() })
byId<HTMLSelectElement>('device-select').addEventListener('change', (ev) => { state.device = (ev.target as HTMLSelectElement).value; renderEarnings() })

async function start (): Promise<void> {
  await refreshCore()
  await Promise.all([refreshEpochs(), refreshEvidence(), refreshGovernance()])
  void live()
  setInterval(render, 2000)
  setInterval(() => { void refreshCore() }, 10_000)
  setInterval(() => { void refreshEpochs() }, 30_000)
  setInterval(() => { void refreshGovernance() }, 5_000)
  document.body.dataset.ready = 'yes'
}

void start()
