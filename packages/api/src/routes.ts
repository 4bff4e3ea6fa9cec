import { Type, type Static, type TSchema } from '@sinclair/typebox'
import {
  AccountParams, ApiErrorBody, DeviceLinkStatus, EntryJson, EpochParams, EpochRewardsJson, EpochsQuery, EpochSummary, EvidenceList, HealthReport,
  Explanation, HubEventSchemas, HubParams, HubStatus, LogsQuery, NetworkJson, PartitionBody, PartitionResult, PeerInfo, ReportLocation, ReportParams, RewardsJson,
  RewardsQuery, TallyQuery
} from './schemas.js'
import { GovApproveBody, GovList, GovSubmitBody, GovSubmitted, RegistryJson, RegistryQuery } from './governance.js'

/**
 * Every route of the local API: method, URL and fastify schema (OpenAPI operation). The daemon
 * registers exactly these; HubClient builds its requests from them. To add a route: its schemas in
 * schemas.ts, an entry here, the handler in daemon/src/api.ts, a HubClient method, and a line in
 * README's API list; the contract test (test/api.test.ts) then validates its real answers.
 */

const errorOf = (description: string) => Type.Object(ApiErrorBody.properties, { description })
const badRequest = errorOf('Bad input: a parameter, query field or body that does not match this schema')
const notFound = errorOf('Nothing found for these (valid) parameters')
const unauthorized = errorOf('Missing or wrong `Authorization: Bearer <token>` (the token is in `<data-dir>/api.token`)')

const eventLine = (type: keyof typeof HubEventSchemas): string => {
  const { name, schema } = HubEventSchemas[type]
  return `- \`${type}\`: ${String(schema.description)}. Data: \`{ ${Object.keys(schema.properties).join(', ')} }\` (schema \`${name}\` in components).`
}

export const routes = {
  status: {
    method: 'GET',
    url: '/status',
    schema: { tags: ['hub'], summary: 'Hub status: identity, peers, log heads, counters, last decided epoch', response: { 200: HubStatus } }
  },
  network: {
    method: 'GET',
    url: '/network',
    schema: {
      tags: ['hub'],
      summary: 'The network this hub runs: its id and definition (validators, devices, epoch clock, economics)',
      description: 'What the dashboard reads the epoch clock and the device registry from. A backer auditing the hubs brings their own network file instead.',
      response: { 200: NetworkJson }
    }
  },
  peers: {
    method: 'GET',
    url: '/peers',
    schema: { tags: ['hub'], summary: 'Connected libp2p peers, one row per peer', response: { 200: Type.Array(PeerInfo, { description: 'Connected peers' }) } }
  },
  devices: {
    method: 'GET',
    url: '/devices',
    schema: {
      tags: ['devices'],
      summary: 'Devices on this hub\'s links: link, last report, counter, battery, errors, last refusal',
      response: { 200: Type.Array(DeviceLinkStatus, { description: 'One row per device' }) }
    }
  },
  logs: {
    method: 'GET',
    url: '/logs/:hub',
    schema: {
      tags: ['logs'],
      summary: 'A page of one hub\'s log, as stored here',
      params: HubParams,
      querystring: LogsQuery,
      response: { 200: Type.Array(EntryJson, { description: 'Entries from `from` on (fewer at the head; empty past it)' }), 400: badRequest, 404: notFound }
    }
  },
  report: {
    method: 'GET',
    url: '/reports/:device/:counter',
    schema: { tags: ['logs'], summary: 'Where one device report is stored (hub log, seq, index)', params: ReportParams, response: { 200: ReportLocation, 400: badRequest, 404: notFound } }
  },
  events: {
    method: 'GET',
    url: '/events',
    schema: {
      tags: ['events'],
      summary: 'Server-Sent Events: stored entries, evidence, decided epochs',
      description: [
        'A `text/event-stream` that stays open. Each event is `event: <type>` then `data: <JSON>`; lines starting with `:` are comments (a ping every 15 s).',
        'A client that falls more than 1 MiB behind is disconnected and should reconnect.',
        '',
        eventLine('entry'),
        eventLine('evidence'),
        eventLine('certificate')
      ].join('\n'),
      response: {
        200: {
          description: 'An endless event stream',
          content: {
            'text/event-stream': {
              schema: {
                type: 'string',
                example: 'event: entry\ndata: {"hub":"12D3KooW…","seq":7,"id":"bafy…","epoch":3,"time":1700000000000,"reports":4,"storedAt":1700000000123,"reportIds":["h1-d001:12"]}\n\n'
              }
            }
          }
        }
      }
    }
  },
  epochs: {
    method: 'GET',
    url: '/epochs',
    schema: {
      tags: ['agreement'],
      summary: 'Decided epochs in order (default: the last 50)',
      querystring: EpochsQuery,
      response: { 200: Type.Array(EpochSummary, { description: 'Decided epochs' }), 400: badRequest }
    }
  },
  epoch: {
    method: 'GET',
    url: '/epochs/:epoch',
    schema: { tags: ['agreement'], summary: 'One decided epoch', params: EpochParams, response: { 200: EpochSummary, 400: badRequest, 404: notFound } }
  },
  epochRewards: {
    method: 'GET',
    url: '/epochs/:epoch/rewards',
    schema: {
      tags: ['agreement'],
      summary: 'Every account\'s and every device\'s reward in a decided epoch, as decided (no proofs: see /rewards/{account})',
      params: EpochParams,
      response: { 200: EpochRewardsJson, 400: badRequest, 404: notFound }
    }
  },
  rewards: {
    method: 'GET',
    url: '/rewards/:account',
    schema: {
      tags: ['agreement'],
      summary: 'An account\'s reward in an epoch and cumulative, with a Merkle proof against the epoch root',
      description: 'Verify `proof` against the `root` of the epoch\'s certificate (GET /epochs/{epoch}), not against the root in this answer.',
      params: AccountParams,
      querystring: RewardsQuery,
      response: { 200: RewardsJson, 400: badRequest, 404: notFound }
    }
  },
  tally: {
    method: 'GET',
    url: '/tally/:epoch',
    schema: {
      tags: ['agreement'],
      summary: 'Why each report of a device counted or not in a decided epoch',
      params: EpochParams,
      querystring: TallyQuery,
      response: { 200: Explanation, 400: badRequest, 404: notFound }
    }
  },
  evidence: {
    method: 'GET',
    url: '/evidence',
    schema: { tags: ['evidence'], summary: 'Equivocation evidence stored here (up to 100), each base64 DAG-CBOR', response: { 200: EvidenceList } }
  },
  metrics: {
    method: 'GET',
    url: '/metrics',
    schema: {
      tags: ['metrics'],
      summary: 'Prometheus metrics (text exposition format); needs no token',
      description: 'ecandle_* (hub), libp2p_* (connections, streams), gossipsub_* (mesh, messages, scores), process_* and nodejs_* series. See docs/operations.md.',
      response: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } }
    }
  },
  health: {
    method: 'GET',
    url: '/health',
    schema: {
      tags: ['hub'],
      summary: 'Health checks (as `ecandle doctor`): green, amber or red each, with the reason and the fix',
      description: 'HTTP 200 when no check is red, 503 (same body) when one is: for container health checks and monitoring. Checks: key, network, database, role, peers, clock, devices, disk, epoch. See docs/operations.md.',
      response: { 200: HealthReport, 503: HealthReport }
    }
  },
  partition: {
    method: 'POST',
    url: '/admin/partition',
    schema: {
      tags: ['admin'],
      summary: 'Refuse to talk to the given peers (a network partition, for tests); an empty list heals',
      security: [{ bearerAuth: [] }],
      body: PartitionBody,
      response: { 200: PartitionResult, 400: badRequest, 401: unauthorized }
    }
  },
  gov: {
    method: 'GET',
    url: '/gov',
    schema: { tags: ['governance'], summary: 'Governance operations: pending, approved, decided, with who has and has not approved', response: { 200: GovList } }
  },
  registry: {
    method: 'GET',
    url: '/registry',
    schema: { tags: ['governance'], summary: 'Registry, validators and parameters in force during an epoch', querystring: RegistryQuery, response: { 200: RegistryJson, 400: badRequest, 404: notFound } }
  },
  govSubmit: {
    method: 'POST',
    url: '/gov/submit',
    schema: {
      tags: ['governance'],
      summary: 'Pool and gossip a signed operation, approval or resolution',
      security: [{ bearerAuth: [] }],
      body: GovSubmitBody,
      response: { 200: GovSubmitted, 400: badRequest, 401: unauthorized }
    }
  },
  govApprove: {
    method: 'POST',
    url: '/gov/approve',
    schema: {
      tags: ['governance'],
      summary: 'Approve an operation as this validator (signed with the hub key), pool and gossip the approval',
      security: [{ bearerAuth: [] }],
      body: GovApproveBody,
      response: { 200: GovSubmitted, 400: badRequest, 401: unauthorized, 404: notFound }
    }
  }
} as const

export type RouteName = keyof typeof routes

type Ok<R> = R extends { schema: { response: { 200: infer S } } } ? (S extends TSchema ? Static<S> : string) : never

/** The JSON answer (HTTP 200) of a route, derived from its schema: `Reply<'status'>` is HubStatus. */
export type Reply<R extends RouteName> = Ok<typeof routes[R]>

/** A route's URL with its `:params` filled in (each URI-encoded). */
export function routePath (route: { url: string }, params: Record<string, string | number> = {}): string {
  return route.url.replace(/:([A-Za-z]+)/g, (_m, name: string) => {
    const v = params[name]
    if (v === undefined) throw new TypeError(`${route.url}: no value for :${name}`)
    return encodeURIComponent(String(v))
  })
}

/** Schemas the OpenAPI document lists under components (the event payloads, which no JSON route answers with). */
export const componentSchemas = Object.fromEntries(Object.values(HubEventSchemas).map(e => [e.name, e.schema]))

export const openapiInfo = {
  title: 'eCandle hub API',
  description: 'The local HTTP API of an eCandle Mesh hub. Read-only except /admin/*, which needs `Authorization: Bearer <token>` from `<data-dir>/api.token`. Listens on 127.0.0.1 unless configured otherwise.'
}

export const openapiTags = [
  { name: 'hub', description: 'Status and peers' },
  { name: 'devices', description: 'This hub\'s devices' },
  { name: 'logs', description: 'Hub logs and the reports in them' },
  { name: 'agreement', description: 'Decided epochs, rewards with Merkle proofs, tally explanations' },
  { name: 'evidence', description: 'Equivocation evidence' },
  { name: 'events', description: 'Server-Sent Events' },
  { name: 'metrics', description: 'Prometheus' },
  { name: 'admin', description: 'State-changing operations (bearer token)' },
  { name: 'governance', description: 'Operations, approvals, the registry and validators of each epoch (writes need the bearer token)' }
]

/** Hints added to validation messages, by top-level field name (where ajv's own words are cryptic). */
export const FIELD_HINTS: Record<string, string> = {
  hub: 'a hub is named by its libp2p peer id (base58, e.g. 12D3KooW…)',
  device: 'a device id is 1..64 characters of [A-Za-z0-9._-]',
  account: 'an account is 64 lowercase hex characters (an Ed25519 public key)',
  explain: '?explain= names a registered device',
  block: 'the body must be { "block": ["<peer id>", …] }',
  body: 'the body must be { "block": ["<peer id>", …] }',
  message: 'a signed governance message, base64',
  op: 'an operation id is 64 lowercase hex characters'
}
