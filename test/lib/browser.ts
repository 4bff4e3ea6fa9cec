import { existsSync, mkdirSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type BrowserContext, type Page } from 'playwright-core'

/**
 * A real headless Chromium (Debian's `chromium` package, driven by playwright-core; nothing is
 * downloaded), one per test file: `newPage` records every request the page makes and every console
 * error and uncaught exception, so a test can assert that a page talks to nobody but its hub and
 * runs without errors. Screenshots go to artifacts/ (git-ignored).
 */
export const CHROMIUM = '/usr/bin/chromium'
export const ARTIFACTS = fileURLToPath(new URL('../../../artifacts/', import.meta.url))

/** The flags a closed network needs (no background requests), plus a fresh profile per launch. */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

export const DESKTOP = { width: 1280, height: 900 }
export const PHONE = { width: 390, height: 844 }

export interface WatchedPage {
  page: Page
  /** Every URL requested (documents, scripts, fetch, WebSockets). */
  requests: string[]
  /** console.error messages and uncaught exceptions. */
  errors: string[]
}

export class Browser {
  private constructor (readonly context: BrowserContext, private readonly profile: string) {}

  static async launch (): Promise<Browser> {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (npm test installs it: scripts/test-tools.mjs)`)
    const profile = await mkdtemp(join(tmpdir(), 'ecandle-chromium-'))
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: DESKTOP })
    return new Browser(context, profile)
  }

  async newPage (viewport = DESKTOP): Promise<WatchedPage> {
    const page = await this.context.newPage()
    await page.setViewportSize(viewport)
    const w: WatchedPage = { page, requests: [], errors: [] }
    page.on('request', r => { w.requests.push(r.url()) })
    page.on('websocket', ws => { w.requests.push(ws.url()) })
    page.on('console', m => { if (m.type() === 'error') w.errors.push(m.text()) })
    page.on('pageerror', e => { w.errors.push(`uncaught: ${e.message}`) })
    return w
  }

  async close (): Promise<void> {
    await this.context.close().catch(() => {})
    await rm(this.profile, { recursive: true, force: true })
  }
}

/** Writes a PNG of the page to artifacts/<name>.png; returns its path. */
export async function screenshot (page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true })
  const path = join(ARTIFACTS, `${name}.png`)
  await page.screenshot({ path, fullPage: true })
  return path
}
