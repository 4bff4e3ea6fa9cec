import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
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

  before(() => { requireTool('prometheus') })

  afterEach(async function () {
    printTailsOnFailure(this, net)
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

    // Two scrapes of every hub: enough samples for rate() over $__rate_interval.
    const scrapeS = Number(/scrape_interval:\s*(\d+)s/.exec(readFileSync(join(DOCKER, 'prometheus.yml'), 'utf8'))?.[1])
    assert.ok(scrapeS > 0, 'docker/prometheus.yml sets a scrape_interval in seconds')
    await waitFor('2 scrapes of each of the 3 hubs, all up', async () => {
      const r = await query('count_over_time(up{job="ecandle-hub"}[5m]) >= 2 and up{job="ecandle-hub"} == 1')
      return r.data.result.length === 3
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
