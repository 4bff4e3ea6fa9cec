#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander'
import { resolve } from 'node:path'
import { ProtocolError } from '@ecandle/protocol'
import { StoreError } from '@ecandle/store'
import { CliError } from '../errors.js'
import { runDaemon } from '../commands/daemon.js'
import { runStatus } from '../commands/status.js'
import { runDevices } from '../commands/devices.js'
import { runEpochs, runRewards, runTally } from '../commands/epochs.js'
import { runTestnet } from '../commands/testnet.js'
import { runAudit } from '../commands/audit.js'
import { runDoctor } from '../commands/doctor.js'
import { runMqttCredentials } from '../commands/credentials.js'
import { createNetwork, initHubDir } from '../commands/setup.js'
import { loadNetwork, parseMultiaddrs as multiaddrs } from '../config.js'
import { parseReachConfig } from '../reach-config.js'
import { runApprove, runGovList, runPropose, runRegistry, runSign, runSubmit } from '../commands/gov.js'
import { runContinue, runEndorse, runSwitch } from '../commands/continue.js'

const int = (min: number, max: number) => (v: string): number => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer in [${min}, ${max}]`)
  return n
}

const program = new Command('ecandle')
  .description('eCandle Mesh: community energy hubs with no central server')
  .showHelpAfterError()

const network = program.command('network').description('network definitions')
network.command('create')
  .description('write a testnet: network.json, accounts and N hub data dirs with keys and emulated devices')
  .requiredOption('--dir <dir>', 'where to write it')
  .option('--hubs <n>', 'hubs (validators)', int(1, 64), 3)
  .option('--devices-per-hub <m>', 'emulated devices per hub', int(0, 5000), 10)
  .option('--name <name>', 'network name', 'ecandle-testnet')
  .option('--epoch-length <s>', 'epoch length, seconds', int(1, 31_622_400), 60)
  .option('--grace <s>', 'grace period after an epoch, seconds', int(0, 86_400), 10)
  .option('--report-interval <s>', 'emulated devices report every s seconds', int(1, 86_400), 10)
  .option('--api-port <port>', 'fixed local API ports: hub-1 gets <port>, hub-2 <port>+1, … (default: free ports at each start)', int(1, 65_000))
  .option('--host <ip>', 'address the hubs listen on, and the bootstrap list names', '127.0.0.1')
  .option('--bootstrap <multiaddr...>', 'bootstrap addresses of the network file (default: every hub), e.g. /ip4/1.2.3.4/tcp/4001/p2p/12D3Koo…')
  .action(async (o) => {
    const c = await createNetwork({ dir: resolve(o.dir), hubs: o.hubs, devicesPerHub: o.devicesPerHub, name: o.name, epochLengthS: o.epochLength, gracePeriodS: o.grace, reportIntervalS: o.reportInterval, apiPortBase: o.apiPort, host: o.host, bootstrap: o.bootstrap === undefined ? undefined : multiaddrs('--bootstrap', o.bootstrap, true) })
    const net = await loadNetwork(c.networkPath)
    process.stdout.write(`network ${net.id} written to ${c.networkPath}\n${c.hubDirs.map((d, i) => `  ${d}  ${c.peerIds[i]}`).join('\n')}\n`)
  })

network.command('continue')
  .description('recovery when more than 1/3 of the validators are gone for good: a new network file carrying epoch E\'s certified state with the validators that remain (reads a stopped hub\'s database)')
  .requiredOption('--data-dir <dir>', 'a stopped hub of the old network')
  .requiredOption('--from-epoch <e>', 'the last certified epoch to carry over', int(0, Number.MAX_SAFE_INTEGER))
  .requiredOption('--remaining <peer ids...>', 'the validators that continue')
  .requiredOption('--out <file>', 'where to write the new network file')
  .option('--name <name>', 'the new network\'s name', 'ecandle-continued')
  .option('--operator-key <files...>', 'operator key files: endorse with each (the others use `network endorse`)', [])
  .action(async (o) => { await runContinue({ dataDir: resolve(o.dataDir), fromEpoch: o.fromEpoch, remaining: o.remaining, name: o.name, out: resolve(o.out), operatorKeys: o.operatorKey }) })
network.command('endorse <file>')
  .description('endorse a continued network file as the operator of one of its validators')
  .requiredOption('--operator-key <file>', 'operator key file (mode 0600)')
  .action(async (file: string, o) => { await runEndorse(resolve(file), o.operatorKey) })
network.command('switch')
  .description('point a stopped hub at the network that continues its own (the old database is kept aside)')
  .requiredOption('--data-dir <dir>', 'hub data directory')
  .requiredOption('--network <file>', 'the continued network file')
  .action(async (o) => { await runSwitch(resolve(o.dataDir), o.network) })

program.command('init')
  .description('create a hub data dir: hub key (mode 0600), API token and config')
  .requiredOption('--data-dir <dir>', 'hub data directory')
  .requiredOption('--network <file>', 'network definition file')
  .option('--listen <multiaddr...>', 'listen addresses (add /ip4/127.0.0.1/tcp/4002/ws for browsers on this machine)', ['/ip4/0.0.0.0/tcp/4001'])
  .option('--announce <multiaddr...>', 'addresses announced besides the listen ones (a port forward: /ip4/<public ip>/tcp/4001; a TLS proxy: /dns4/<name>/tcp/443/wss)')
  .option('--bootstrap <multiaddr...>', 'peers dialled besides the network file\'s bootstrap list')
  .option('--upnp', 'ask the router for a port mapping (UPnP IGD)')
  .option('--no-mdns', 'do not look for hubs on the LAN by mDNS')
  .option('--no-hole-punch', 'no DCUtR hole punching')
  .option('--relay-server <mode>', 'circuit relay server: auto (while publicly reachable), on, off', 'auto')
  .action(async (o) => {
    await loadNetwork(resolve(o.network))
    const listen = multiaddrs('--listen', o.listen)
    const reach = { upnp: o.upnp === true, ...(o.mdns === false ? { mdns: false } : {}), ...(o.holePunch === false ? { holePunch: false } : {}), relay: { server: o.relayServer } }
    const dataDir = resolve(o.dataDir)
    parseReachConfig(reach, listen) // refuse bad values before writing anything
    const peerId = await initHubDir(dataDir, { networkPath: resolve(o.network), listen, announce: multiaddrs('--announce', o.announce ?? []), bootstrap: multiaddrs('--bootstrap', o.bootstrap ?? [], true), reach }).catch((err: any) => {
      if (err?.code === 'EEXIST') throw new CliError(`${o.dataDir} is already initialised (found ${String(err.path)})`)
      throw err
    })
    process.stdout.write(`hub ${peerId} initialised in ${resolve(o.dataDir)}\n`)
  })

program.command('daemon')
  .description('run a hub')
  .requiredOption('--data-dir <dir>', 'hub data directory')
  .option('--network <file>', 'network file (overrides the config)')
  .option('--listen <multiaddr...>', 'listen addresses (override the config)')
  .option('--announce <multiaddr...>', 'announced addresses (override the config)')
  .option('--bootstrap <multiaddr...>', 'extra bootstrap peers (override the config)')
  .option('--api-port <port>', 'local API port', int(0, 65535))
  .option('--api-host <host>', 'local API address (default 127.0.0.1; anything else exposes the API)')
  .option('--entry-interval <ms>', 'at most one log entry per interval', int(50, 3_600_000))
  .option('--log-level <level>', 'fatal|error|warn|info|debug|trace')
  .option('--pretty', 'human-readable logs instead of JSON')
  .option('--profile <name>', 'resource profile: default | lowpower (fewer connections, smaller caches; for 1 GB boards)')
  .action(async (o) => {
    await runDaemon(o.dataDir, { network: o.network === undefined ? undefined : resolve(o.network), listen: o.listen, announce: o.announce, bootstrap: o.bootstrap, apiHost: o.apiHost, apiPort: o.apiPort, entryIntervalMs: o.entryInterval, logLevel: o.logLevel, pretty: o.pretty, profile: o.profile })
  })

program.command('doctor')
  .description('check a hub: key, network, database, peers, clock, devices, disk, epochs — green/amber/red with fixes; exit 1 if any is red')
  .requiredOption('--data-dir <dir>', 'hub data directory')
  .option('--json', 'one JSON object (as GET /health)')
  .option('--quiet', 'print nothing; only the exit status (container health checks)')
  .action(async (o) => { await runDoctor(o.dataDir, { json: o.json === true, quiet: o.quiet === true }) })

program.command('status')
  .description("show a running hub's status")
  .requiredOption('--data-dir <dir>', 'hub data directory')
  .option('--json', 'one JSON object')
  .action(async (o) => { await runStatus(o.dataDir, o.json === true) })

program.command('devices')
  .description("a running hub's devices: link, last report, counter, battery, energy today, errors, last refusal")
  .requiredOption('--data-dir <dir>', 'hub data directory')
  .option('--json', 'one JSON array')
  .action(async (o) => { await runDevices(o.dataDir, o.json === true) })

program.command('mqtt-credentials')
  .description('a random MQTT password per device of this hub: hashes for the embedded broker (0600), passwords to --out (0600) for the devices')
  .requiredOption('--data-dir <dir>', 'hub data directory')
  .requiredOption('--out <file>', 'where to write the passwords (a new file)')
  .option('--devices <ids...>', 'only these devices (default: every device of this hub)')
  .action(async (o) => { await runMqttCredentials(o.dataDir, { out: resolve(o.out), devices: o.devices }) })

program.command('epochs')
  .description('decided epochs: cut, root, signers, totals')
  .requiredOption('--data-dir <dir>', 'hub data directory')
  .option('--json', 'JSON output')
  .option('--limit <n>', 'most recent n epochs', int(1, 1000), 20)
  .action(async (o) => { await runEpochs(o.dataDir, o.json === true, o.limit) })

program.command('rewards <account>')
  .description("an account's reward in an epoch and cumulative, with its Merkle proof")
  .requiredOption('--data-dir <dir>', 'hub data directory')
  .option('--epoch <e>', 'epoch (default: the last decided)', int(0, Number.MAX_SAFE_INTEGER))
  .option('--json', 'JSON output')
  .action(async (account, o) => { await runRewards(o.dataDir, account, o.epoch, o.json === true) })

program.command('tally <epoch>')
  .description('every report of a device in an epoch with its status and reason')
  .requiredOption('--data-dir <dir>', 'hub data directory')
  .requiredOption('--explain <device>', 'device id')
  .option('--json', 'JSON output')
  .action(async (epoch, o) => { await runTally(o.dataDir, int(0, Number.MAX_SAFE_INTEGER)(epoch), o.explain, o.json === true) })

program.command('audit')
  .description("audit the network as a light peer: certificates, an account's rewards with Merkle proofs, or a full recomputation of an epoch")
  .requiredOption('--network <file>', 'network definition file (the only thing trusted)')
  .requiredOption('--peer <multiaddr>', 'a hub to fetch from, e.g. /ip4/1.2.3.4/tcp/4001/p2p/12D3Koo…')
  .option('--account <hex>', "verify this account's reward in every decided epoch")
  .option('--epoch <e>', 'last epoch to audit (with --full: the epoch to recompute)', int(0, Number.MAX_SAFE_INTEGER))
  .option('--full', "fetch the epoch's entries, verify every signature, recompute the tally and compare roots")
  .option('--timeout <ms>', 'deadline of each request', int(100, 600_000), 30_000)
  .option('--continued <file>', 'a network file continuing this network: check what it carries against the certified history')
  .option('--json', 'one JSON object')
  .action(async (o) => {
    await runAudit({ network: resolve(o.network), peer: o.peer, account: o.account, epoch: o.epoch, full: o.full === true, json: o.json === true, timeoutMs: o.timeout, continued: o.continued === undefined ? undefined : resolve(o.continued) })
  })

program.command('testnet')
  .description('run N hub processes with emulated devices on 127.0.0.1 until Ctrl-C')
  .option('--hubs <n>', 'hubs', int(1, 64), 3)
  .option('--devices-per-hub <m>', 'emulated devices per hub', int(0, 5000), 10)
  .option('--dir <dir>', 'testnet directory', '.testnet')
  .option('--epoch-length <s>', 'epoch length, seconds', int(1, 31_622_400))
  .option('--report-interval <s>', 'emulated devices report every s seconds', int(1, 86_400))
  .action(async (o) => {
    await runTestnet({ hubs: o.hubs, devicesPerHub: o.devicesPerHub, dir: resolve(o.dir), epochLengthS: o.epochLength, reportIntervalS: o.reportInterval })
  })

const gov = program.command('gov').description('governance: propose, sign, submit and approve operations; list the pool and decisions (docs/governance.md)')
gov.command('propose <type>')
  .description('write (--out) or submit (--data-dir) an operation: device-add | device-transfer | device-move | device-retire | hub-add | hub-remove | params; signed with every key file given (others sign with `gov sign`)')
  .requiredOption('--network <file>', 'network definition file')
  .option('--out <file>', 'write the operation file here')
  .option('--data-dir <dir>', 'submit it to this running hub now')
  .option('--exp <epoch>', 'last epoch that may decide it (default: now + 32)', int(0, Number.MAX_SAFE_INTEGER))
  .option('--id <device>', 'device id')
  .option('--device-keys <file>', 'device-add: key file holding the device (as `ecandle-emulate new-device` writes)')
  .option('--hub <peer id>', 'device-add: its hub; hub-add / hub-remove: the hub')
  .option('--hub-key <file>', "hub-add: the new hub's hub.key (signs)")
  .option('--rated <wh>', "device-add: rated Wh/day (default: the key file's)")
  .option('--maker-key <file>', 'device-add: maker key (signs the device key)')
  .option('--role <capex|opex>', 'device-transfer: which role moves')
  .option('--from-hub <peer id>', 'device-move: the hub it leaves')
  .option('--to-hub <peer id>', 'device-move: the hub it joins')
  .option('--emission <n>', 'params: emission per epoch')
  .option('--capex-bps <n>', 'params: capex share, basis points')
  .option('--device-cap <mwh>', 'params: device cap per epoch, mWh')
  .option('--grace <s>', 'params: grace period, seconds')
  .option('--makers <hex,…>', 'params: the whole new list of maker keys')
  .option('--quorum-bps <n>', "params: builders' quorum, basis points")
for (const p of ['operator', 'capex', 'opex', 'from', 'to', 'from-operator', 'to-operator']) {
  gov.commands.at(-1)!.option(`--${p} <hex>`, `${p} account (hex)`).option(`--${p}-key <file>`, `${p} key file (signs as ${p})`)
}
gov.commands.at(-1)!.action(async (type: string, o) => { await runPropose(type, o) })
gov.command('sign <op-file>')
  .description("add one role's signature to an operation file")
  .requiredOption('--network <file>', 'network definition file')
  .requiredOption('--role <role>', 'device | operator | capex | opex | from | to | hub | fromOperator | toOperator')
  .requiredOption('--key <file>', 'key file of that role (mode 0600)')
  .action(async (file: string, o) => { await runSign(resolve(file), o) })
gov.command('submit <op-file>')
  .description('submit a fully signed operation file to a running hub (pooled and gossiped)')
  .requiredOption('--data-dir <dir>', 'hub data directory')
  .action(async (file: string, o) => { await runSubmit(resolve(file), o.dataDir) })
gov.command('approve <op-id>')
  .description("approve an operation: as this hub's validator (hub key), or as a builder with --builder-key")
  .requiredOption('--data-dir <dir>', "hub data directory (the hub that signs, or submits a builder's approval)")
  .option('--builder-key <file>', 'a capex or opex account key file: approve as that builder')
  .option('--network <file>', 'network definition file (with --builder-key)')
  .option('--against', "vote no (builders; a validator's no counts as no approval)")
  .action(async (id: string, o) => { await runApprove(id, { dataDir: o.dataDir, builderKey: o.builderKey, network: o.network === undefined ? undefined : resolve(o.network), no: o.against === true }) })
gov.command('list')
  .description('operations in the pool and recently decided, with who has and has not approved')
  .requiredOption('--data-dir <dir>', 'hub data directory')
  .option('--json', 'one JSON object')
  .action(async (o) => { await runGovList(o.dataDir, o.json === true) })

program.command('registry')
  .description('the registry, validators and parameters in force during an epoch')
  .requiredOption('--data-dir <dir>', 'hub data directory')
  .option('--epoch <e>', 'epoch (default: the next to decide)', int(0, Number.MAX_SAFE_INTEGER))
  .option('--json', 'one JSON object')
  .action(async (o) => { await runRegistry(o.dataDir, o.epoch, o.json === true) })

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CliError || err instanceof ProtocolError || err instanceof StoreError) {
    process.stderr.write(`ecandle: ${err.message}\n`)
    process.exit(err instanceof CliError ? err.exitCode : 1)
  }
  process.stderr.write(`ecandle: unexpected error: ${String((err as Error)?.stack ?? err)}\n`)
  process.exit(2)
})
