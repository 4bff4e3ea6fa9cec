/** Tiny DOM helpers: text is always set as text (never parsed as HTML), so served data cannot inject markup. */
export function h<K extends keyof HTMLElementTagNameMap> (tag: K, attrs: Record<string, string | boolean | undefined> = {}, ...children: Array<Node | string | null | undefined>): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue
    e.setAttribute(k, v === true ? '' : v)
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c)
  return e
}

export function byId<T extends HTMLElement = HTMLElement> (id: string): T {
  const e = document.getElementById(id)
  if (e === null) throw new Error(`page: no #${id}`)
  return e as T
}

export function fill (parent: HTMLElement, ...children: Array<Node | string | null | undefined>): void {
  parent.replaceChildren(...children.filter((c): c is Node | string => c !== null && c !== undefined))
}

export const short = (s: string, n = 10): string => s.length > n + 2 ? `${s.slice(0, n)}…` : s

export function ago (ms: number): string {
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
  return `${Math.floor(s / 86400)} d`
}

/** Energy for people: mWh below 1 Wh, else Wh or kWh with one decimal (display only; figures stay integers). */
export function wh (mwh: number | bigint): string {
  const n = Number(mwh)
  if (n < 1000) return `${n} mWh`
  if (n < 1_000_000) return `${(n / 1000).toFixed(1)} Wh`
  return `${(n / 1_000_000).toFixed(1)} kWh`
}
