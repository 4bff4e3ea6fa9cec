import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { createHubNode, multiaddr, type HubNode } from '@ecandle/net'
import { generateSeed, topics } from '@ecandle/protocol'
import { freePort, requireTool } from './lib/links.js'
import { Testnet, getJson, printTailsOnFailure, waitFor } from './lib/testnet.js'
import { stopChild } from '@ecandle/emulator/testing'

const DOCKER = fileURLToPath(new URL('../../docker/', import.meta.url))

interface PromResult { status: string, data: { resultType: string, result: unknown[] }, error?: string }

/**
 * The Grafana dashboard against a real Prometheus (Debian's package): Prometheus runs with
 * docker/prometheus.yml as shipped, scraping a 3-hub testnet (their targets in hubs/*.json, as the
 * file says), and every query of every panel of docker/grafana/ecandle-hub.json returns a series.
 * Grafana's variables are filled as Grafana would: $instance with the dashboard's "All" value,
 * $__rate_interval with max(4 × scrape interval, scrape interval + step).
 */
describe('Grafana dashboard against a real Prometheus scraping a testnet', function () {
  this.timeout(120_000)
  let net: Testnet | undefined
  let prom: ChildProcess | undefined
  let stranger: HubNode | undefined

  before(() => { requireTool('prometheus') })

  afterEach(async function () {
    printTailsOnFailure(this, net)
    await stranger?.stop()
    await stopChild(prom)
    await net?.destroy()
  })

  it('every panel query of docker/grafana/ecandle-hub.json returns at least one series', async () => {
    net = await Testnet.create({ hubs: 3, devicesPerHub: 3, epochLengthS: 10, gracePeriodS: 1 })
    await net.start()
    const t = net
    const dir = join(t.dir, 'prometheus')
    mkdirSync(join(dir, 'hubs'), { recursive: true })
    copyFileSync(join(DOCKER, 'prometheus.yml'), join(dir, 'prometheus.yml'))
    writeFileSync(join(dir, 'hubs', 'testnet.json'), JSON.stringify(t.hubs.map(h => ({ targets: [new URL(h.url ?? '').host], labels: { hub: h.name } }))))
    const port = await freePort()
    const fd = openSync(join(dir, 'prometheus.log'), 'a')
    prom = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', fd, fd] })
    closeSync(fd)
    const api = `http://127.0.0.1:${port}/api/v1`
    const query = async (q: string): Promise<PromResult> => await getJson<PromResult>(`${api}/query?query=${encodeURIComponent(q)}`)

    // The reject panels need a REJECT to show: an honest testnet may send none, so a stranger
    // publishes one garbage entry (every hub REJECTs it).
    stranger = await createHubNode({ seed: generateSeed(), networkId: t.net.id, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: t.net.def.bootstrap })
    const pubsub = stranger.services.pubsub
    const entries = topics.entries(t.net.id)
    pubsub.subscribe(entries)
    await stranger.start()
    for (const a of t.net.def.bootstrap) await stranger.dial(multiaddr(a)).catch(() => {})
    await waitFor('every hub known to the stranger as a subscriber of the entries topic', () =>
      t.peerIds.every(p => pubsub.getSubscribers(entries).some(s => s.toString() === p)) ? true : undefined, { timeoutMs: 20_000 })
    const sent = await pubsub.publish(entries, new Uint8Array(randomBytes(300)))
    assert.equal(sent.recipients.length, 3, 'the garbage entry went to the 3 hubs')

    // Two scrapes of every hub (after the REJECT): enough samples for rate() over $__rate_interval.
    const scrapeS = Number(/scrape_interval:\s*(\d+)s/.exec(readFileSync(join(DOCKER, 'prometheus.yml'), 'utf8'))?.[1])
    assert.ok(scrapeS > 0, 'docker/prometheus.yml sets a scrape_interval in seconds')
    await waitFor('2 scrapes of each of the 3 hubs, all up', async () => {
      const r = await query('count_over_time(up{job="ecandle-hub"}[5m]) >= 2 and up{job="ecandle-hub"} == 1')
      const rejects = await query('count_over_time(ecandle_gossip_messages_total{result="reject"}[5m]) >= 2')
      return r.data.result.length === 3 && rejects.data.result.length === 3
    }, { timeoutMs: 90_000, intervalMs: 1000, describe: () => readFileSync(join(dir, 'prometheus.log'), 'utf8').split('\n').slice(-5).join(' | ') })

    const dash = JSON.parse(readFileSync(join(DOCKER, 'grafana', 'ecandle-hub.json'), 'utf8')) as { panels: Array<{ title: string, type: string, targets?: Array<{ expr?: string }> }>, templating: { list: Array<{ name: string, allValue?: string, query?: { query?: string } | string }> } }
    const instance = dash.templating.list.find(v => v.name === 'instance')
    assert.ok(instance?.allValue !== undefined, 'the dashboard has an $instance variable with an "All" value')
    const rateInterval = `${Math.max(4 * scrapeS, scrapeS + 15)}s`
    const fill = (expr: string): string => expr.replaceAll('$__rate_interval', rateInterval).replaceAll('$instance', instance.allValue ?? '.*')

    // The variable's own query: label_values(ecandle_info, instance).
    const labels = await getJson<{ data: string[] }>(`${api}/label/instance/values?match[]=ecandle_info`)
    assert.equal(labels.data.length, 3, 'label_values(ecandle_info, instance) lists the 3 hubs')

    const empty: string[] = []
    let queries = 0
    for (const p of dash.panels) {
      if (p.type === 'row') continue
      assert.ok((p.targets ?? []).length > 0, `panel "${p.title}" has queries`)
      for (const target of p.targets ?? []) {
        assert.ok(typeof target.expr === 'string' && target.expr !== '', `panel "${p.title}": every target has an expr`)
        const r = await query(fill(target.expr))
        assert.equal(r.status, 'success', `panel "${p.title}": ${target.expr}: ${r.error ?? ''}`)
        queries++
        if (r.data.result.length === 0) empty.push(`"${p.title}": ${target.expr}`)
      }
    }
    assert.deepEqual(empty, [], `queries with no series (of ${queries})`)
    console.log(`      ${queries} queries of ${dash.panels.filter(p => p.type !== 'row').length} panels, each with ≥ 1 series`)
  })
})
