import type { DeviceLinkStatus } from '@ecandle/api'
import { apiUrl } from './daemon.js'
import { fetchJson } from './status.js'

/** `ecandle devices`: every device of a running hub (GET /devices), a table or one JSON array. */
export async function runDevices (dataDir: string, json: boolean): Promise<void> {
  const rows = await fetchJson<DeviceLinkStatus[]>(`${await apiUrl(dataDir)}/devices`)
  if (json) {
    process.stdout.write(JSON.stringify(rows) + '\n')
    return
  }
  process.stdout.write(devicesTable(rows, Date.now()) + '\n')
}

/** The human table of `ecandle devices` (exported for tests). */
export function devicesTable (rows: DeviceLinkStatus[], now: number): string {
  if (rows.length === 0) return 'no devices heard yet (configure "devices" or "emulator" in config.json)'
  const ago = (t?: number): string => {
    if (t === undefined) return '-'
    const s = Math.max(0, Math.round((now - t) / 1000))
    return s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`
  }
  const head = ['DEVICE', 'LINK', 'UP', 'LAST REPORT', 'COUNTER', 'BATTERY', 'TODAY', 'ERRORS', 'LAST REFUSAL']
  const body = rows.map(r => [
    r.device,
    r.link,
    r.connected ? 'yes' : 'no',
    ago(r.lastReportAt),
    r.counter === undefined ? '-' : String(r.counter),
    r.batteryMv === undefined ? '-' : `${(r.batteryMv / 1000).toFixed(2)} V${r.soc === undefined ? '' : ` ${r.soc}%`}`,
    r.energyTodayMwh === undefined ? '-' : `${(r.energyTodayMwh / 1000).toFixed(1)} Wh`,
    String(r.errors),
    r.lastRefusal === undefined ? '-' : `${r.lastRefusal}${r.lastRefusalCounter === undefined ? '' : ` #${r.lastRefusalCounter}`}`
  ])
  const width = head.map((h, i) => Math.max(h.length, ...body.map(b => b[i].length)))
  const line = (cells: string[]): string => cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(width[i])).join('  ')
  return [line(head), ...body.map(line)].join('\n')
}
