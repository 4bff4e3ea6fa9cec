import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { freePort } from '@ecandle/emulator/testing'
import { TestHub, waitFor } from './testnet.js'

/**
 * Real network namespaces for NAT and LAN tests: veth pairs, routers with nftables masquerade,
 * hubs as real processes inside them. Every name carries a per-run prefix (parallel runs never
 * collide); `destroy()` ends what runs inside and deletes every namespace, also after a failure.
 * Traffic never leaves the namespaces: none of them is linked to the host's.
 *
 * The simulated internet uses 11.0.0.0/8: only public addresses are verified by AutoNAT and used
 * by DCUtR (libp2p treats every documentation range as private). It exists only on veths inside
 * these namespaces.
 */
const run = promisify(execFile)

export async function sh (cmd: string, args: string[]): Promise<string> {
  try {
    return (await run(cmd, args, { timeout: 20_000 })).stdout
  } catch (err: any) {
    throw new Error(`${cmd} ${args.join(' ')}: ${String(err?.stderr ?? err?.message ?? err).trim()}`)
  }
}

/** The host's (root namespace's) interfaces, addresses and routes, one line each. */
export async function hostNetwork (): Promise<string[]> {
  const addrs = JSON.parse(await sh('ip', ['-j', 'addr', 'show'])) as Array<{ ifname: string, addr_info?: Array<{ local: string, prefixlen: number }> }>
  const routes = JSON.parse(await sh('ip', ['-j', 'route', 'show', 'table', 'all'])) as Array<{ dst: string, dev?: string, gateway?: string }>
  return [
    ...addrs.map(a => `link ${a.ifname} ${(a.addr_info ?? []).map(i => `${i.local}/${i.prefixlen}`).sort().join(' ')}`),
    ...routes.map(r => `route ${r.dst} ${r.dev ?? ''} ${r.gateway ?? ''}`)
  ].sort()
}

/** Addresses of the simulated internet (11.0.0.0/8): they must exist only inside the test's namespaces. */
const SIMULATED_INTERNET = /(^|[ /])11\.\d+\.\d+\.\d+/

export class Netns {
  readonly prefix = `ec${process.pid.toString(36)}${randomBytes(2).toString('hex')}`
  private readonly names: string[] = []
  private readonly procs: ChildProcess[] = []
  private host?: string[]
  private readonly veths: string[] = []

  /** A namespace with loopback up; `router`: forwards IPv4. */
  async add (short: string, router = false): Promise<string> {
    this.host ??= await hostNetwork()
    const name = `${this.prefix}-${short}`
    await sh('ip', ['netns', 'add', name])
    this.names.push(name)
    await sh('ip', ['-n', name, 'link', 'set', 'lo', 'up'])
    if (router) await this.exec(name, ['sysctl', '-qw', 'net.ipv4.ip_forward=1'])
    return name
  }

  /** A veth pair from `a` (interface `ifA`, address `addrA` as a.b.c.d/len) to `b`. */
  async link (a: string, ifA: string, addrA: string, b: string, ifB: string, addrB: string): Promise<void> {
    this.veths.push(ifA, ifB)
    await sh('ip', ['link', 'add', ifA, 'netns', a, 'type', 'veth', 'peer', 'name', ifB, 'netns', b])
    for (const [ns, dev, addr] of [[a, ifA, addrA], [b, ifB, addrB]]) {
      await sh('ip', ['-n', ns, 'addr', 'add', addr, 'dev', dev])
      await sh('ip', ['-n', ns, 'link', 'set', dev, 'up'])
    }
  }

  /**
   * Throws unless traffic stays in our namespaces: the host has no 11.0.0.0/8 address or route
   * and none of the veth ends we made (each is created inside its namespace, never in the host's),
   * and `edge` (the simulated internet) routes nowhere beyond its own links. (Other work on the
   * machine may add host interfaces of its own: only ours are looked for.)
   */
  async assertIsolated (edge?: string): Promise<void> {
    const before = new Set(this.host ?? [])
    const leaked = (await hostNetwork()).filter(l => SIMULATED_INTERNET.test(l) || (!before.has(l) && this.veths.some(v => l.startsWith(`link ${v} `))))
    if (leaked.length > 0) throw new Error(`the host namespace has test addresses or links: ${leaked.join('; ')}`)
    if (edge !== undefined && (await sh('ip', ['-n', edge, 'route', 'show', 'default'])).trim() !== '') throw new Error(`${edge} has a default route: traffic could leave the namespaces`)
  }

  async route (ns: string, via: string): Promise<void> { await sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', via]) }

  /** Multicast out of `dev` (what a LAN host's default route gives it), without any route out. */
  async multicastRoute (ns: string, dev: string): Promise<void> { await sh('ip', ['-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', dev]) }

  async exec (ns: string, cmd: string[]): Promise<string> { return await sh('ip', ['netns', 'exec', ns, ...cmd]) }

  /** nftables rules (a ruleset text) loaded inside `ns`. */
  async nft (ns: string, ruleset: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const p = spawn('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] })
      let err = ''
      p.stderr.setEncoding('utf8').on('data', (d: string) => { err += d })
      p.once('close', code => { if (code === 0) resolve(); else reject(new Error(`nft in ${ns}: ${err.trim()}`)) })
      p.stdin.end(ruleset)
    })
  }

  /**
   * A home router: masquerade out of `wan`, and nothing unsolicited in (dropped, not refused, as
   * most routers do). `randomPorts`: the NAT picks a random public port for every connection (as
   * carrier-grade NATs do), so hole punching cannot work.
   */
  async natRouter (ns: string, randomPorts: boolean): Promise<void> {
    await this.nft(ns, `
table ip nat {
  chain post { type nat hook postrouting priority srcnat; oifname "wan" masquerade${randomPorts ? ' random' : ''}; }
}
table inet fw {
  chain input { type filter hook input priority filter; iifname "wan" ct state established,related accept; iifname "wan" drop; }
  chain forward { type filter hook forward priority filter; iifname "wan" ct state established,related accept; iifname "wan" drop; }
}`)
  }

  /** Cuts (true) or restores (false) everything a router forwards: a village's WAN link going down. */
  async cut (ns: string, on: boolean): Promise<void> {
    if (on) await this.nft(ns, 'table inet cut {\n  chain f { type filter hook forward priority -10; policy drop; }\n}\n')
    else await this.exec(ns, ['nft', 'delete', 'table', 'inet', 'cut'])
  }

  /** Can `from` open a TCP connection to host:port? (socat exits 0 on connect.) */
  async canConnect (from: string, host: string, port: number): Promise<boolean> {
    try {
      await this.exec(from, ['socat', '-u', 'OPEN:/dev/null', `TCP:${host}:${port},connect-timeout=2`])
      return true
    } catch {
      return false
    }
  }

  /** A long-running process we own (ended by `destroy`). */
  spawn (cmd: string, args: string[], logPath?: string): ChildProcess {
    const fd = logPath === undefined ? 'ignore' : openSync(logPath, 'a')
    try {
      const p = spawn(cmd, args, { stdio: ['ignore', fd, fd] })
      this.procs.push(p)
      return p
    } finally {
      if (typeof fd === 'number') closeSync(fd)
    }
  }

  /**
   * The hub API inside `ns` (127.0.0.1:`apiPort` there) on 127.0.0.1:<returned port> here:
   * socat in the namespace serves a unix socket (files cross namespaces), socat here a TCP port.
   */
  async forwardApi (ns: string, apiPort: number, dir: string): Promise<number> {
    const sock = join(dir, `api-${ns}.sock`)
    this.spawn('ip', ['netns', 'exec', ns, 'socat', `UNIX-LISTEN:${sock},fork,unlink-early`, `TCP:127.0.0.1:${apiPort}`])
    await waitFor(`socket ${sock}`, () => existsSync(sock), { timeoutMs: 10_000, intervalMs: 50 })
    const port = await freePort()
    this.spawn('socat', [`TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr`, `UNIX-CONNECT:${sock}`])
    return port
  }

  /** Ends every process we started (and any left inside our namespaces), then deletes the namespaces. */
  async destroy (): Promise<void> {
    for (const p of this.procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
    for (const ns of [...this.names].reverse()) {
      const pids = (await sh('ip', ['netns', 'pids', ns]).catch(() => '')).split('\n').map(Number).filter(n => n > 0)
      for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch {} }
      await sh('ip', ['netns', 'del', ns]).catch(() => {})
    }
    this.names.length = 0
  }
}

/** A hub process inside a namespace; its API is reached through `Netns.forwardApi`. */
export class NsHub extends TestHub {
  constructor (index: number, dir: string, peerId: string, readonly ns: string, readonly hostPort: number, readonly label: string) {
    super(index, dir, peerId, 4001)
  }

  override get name (): string { return this.label }

  /** `ip netns exec` execs the command: the child's pid is the hub's. */
  protected override command (nodeArgs: string[]): [string, string[]] { return ['ip', ['netns', 'exec', this.ns, process.execPath, ...nodeArgs]] }

  protected override reachableUrl (): string { return `http://127.0.0.1:${this.hostPort}` }

  override async waitApi (timeoutMs = 60_000): Promise<string> { return await super.waitApi(timeoutMs) }
}
