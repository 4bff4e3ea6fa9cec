#!/usr/bin/env node
// `npm test` runs this first: the tests use real system tools, and a missing one must stop the run in its
// first second with one line, never halfway through with a stack trace. On Debian or Raspberry Pi OS, as
// root (or with password-less sudo), what is missing is installed with apt-get and said in one line.
import { spawnSync } from 'node:child_process'

/** command on PATH → the Debian package that brings it, and what needs it. */
const TOOLS = [
  { command: 'socat', debian: 'socat', for: 'the serial-link tests' },
  { command: 'mosquitto', debian: 'mosquitto', for: 'the MQTT tests' },
  { command: 'mosquitto_passwd', debian: 'mosquitto', for: 'the MQTT credential tests' },
  { command: 'openssl', debian: 'openssl', for: 'the TLS tests (test certificates)' },
  { command: 'prometheus', debian: 'prometheus', for: 'the Grafana dashboard test' },
  { command: 'systemd-analyze', debian: 'systemd', for: 'the systemd unit test' },
  { command: 'chromium', debian: 'chromium', for: 'the page tests (headless Chromium)' },
  { command: 'ip', debian: 'iproute2', for: 'the network-namespace tests' },
  { command: 'nft', debian: 'nftables', for: 'the network-namespace tests' }
  // podman, runc and debootstrap: ../shared/tools/container-base.sh installs them for the container test.
]

const onPath = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0

/** How to run apt-get here: directly as root, through password-less sudo, or not at all. */
function aptGet () {
  if (!onPath('apt-get')) return undefined
  if (process.getuid?.() === 0) return []
  if (onPath('sudo') && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0) return ['sudo', '-n']
  return undefined
}

function run (argv) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  return r.status === 0 ? undefined : (r.stderr || r.stdout || String(r.error ?? '')).trim().split('\n').pop()
}

const missing = TOOLS.filter(t => !onPath(t.command))
if (missing.length > 0) {
  const names = missing.map(t => t.command).join(', ')
  const packages = [...new Set(missing.map(t => t.debian))]
  const prefix = aptGet()
  if (prefix === undefined) {
    process.stderr.write(`npm test needs ${names} for ${[...new Set(missing.map(t => t.for))].join(' and ')}: install ${packages.join(' ')} (Debian: sudo apt-get install ${packages.join(' ')}) and run it again\n`)
    process.exit(1)
  }
  process.stdout.write(`npm test: installing ${packages.join(' ')} with apt-get, for ${[...new Set(missing.map(t => t.for))].join(' and ')}\n`)
  const failed = run([...prefix, 'apt-get', 'update', '-qq']) ??
    run([...prefix, 'apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...packages])
  const still = missing.filter(t => !onPath(t.command)).map(t => t.command)
  if (still.length > 0) {
    process.stderr.write(`npm test: could not install ${still.join(', ')} with apt-get${failed === undefined ? ' (not on PATH after install)' : `: ${failed}`}; install ${packages.join(' ')} and run it again\n`)
    process.exit(1)
  }
}
