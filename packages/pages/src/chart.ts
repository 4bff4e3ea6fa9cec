/**
 * A bar chart in SVG (no library, nothing fetched): one bar per epoch, a zero bar greyed so an
 * epoch that earned nothing is visible, and optionally a cumulative line on its own scale.
 */
export interface ChartPoint { label: string, value: bigint, cumulative?: bigint, title?: string }

const NS = 'http://www.w3.org/2000/svg'

function el<K extends keyof SVGElementTagNameMap> (name: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, name)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
  if (text !== undefined) e.textContent = text
  return e
}

/** Ratio of two bigints as a float, for drawing only (never for figures shown as numbers). */
const frac = (a: bigint, b: bigint): number => b === 0n ? 0 : Number((a * 10_000n) / b) / 10_000

export function barChart (points: readonly ChartPoint[], opts: { height?: number, unit?: string } = {}): SVGSVGElement {
  const w = 640
  const h = opts.height ?? 180
  const pad = { l: 8, r: 8, t: 16, b: 22 }
  const svg = el('svg', { viewBox: `0 0 ${w} ${h}`, class: 'chart', role: 'img' })
  const max = points.reduce((m, p) => p.value > m ? p.value : m, 0n)
  const maxCum = points.reduce((m, p) => (p.cumulative ?? 0n) > m ? p.cumulative ?? 0n : m, 0n)
  const n = Math.max(points.length, 1)
  const slot = (w - pad.l - pad.r) / n
  const bw = Math.max(2, slot * 0.7)
  const ih = h - pad.t - pad.b
  svg.append(el('title', {}, `${points.length} epochs${opts.unit === undefined ? '' : `, ${opts.unit}`}; highest ${max}`))
  points.forEach((p, i) => {
    const x = pad.l + i * slot + (slot - bw) / 2
    const bh = p.value === 0n ? 2 : Math.max(2, frac(p.value, max) * ih)
    const r = el('rect', { x: x.toFixed(1), y: (pad.t + ih - bh).toFixed(1), width: bw.toFixed(1), height: bh.toFixed(1), class: p.value === 0n ? 'bar zero' : 'bar' })
    r.append(el('title', {}, p.title ?? `${p.label}: ${p.value}`))
    svg.append(r)
    if (n <= 16 || i % Math.ceil(n / 16) === 0) svg.append(el('text', { x: (x + bw / 2).toFixed(1), y: h - 6, 'text-anchor': 'middle' }, p.label))
  })
  if (maxCum > 0n) {
    const pts = points.map((p, i) => `${(pad.l + i * slot + slot / 2).toFixed(1)},${(pad.t + ih - frac(p.cumulative ?? 0n, maxCum) * ih).toFixed(1)}`)
    svg.append(el('polyline', { points: pts.join(' '), class: 'line' }))
  }
  svg.append(el('text', { x: pad.l, y: 11 }, `max ${max}${opts.unit === undefined ? '' : ` ${opts.unit}`} per epoch${maxCum > 0n ? `; line: cumulative (max ${maxCum})` : ''}`))
  return svg
}
