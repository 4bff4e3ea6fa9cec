/**
 * JSON schemas of the local HTTP API: fastify validates params, query strings and bodies with
 * them, and @fastify/swagger turns them into the OpenAPI document served at /docs/json.
 * Response schemas document only: api.ts serializes with JSON.stringify, so a response schema
 * can never strip a field that clients read.
 */

const PEER_ID = '^[1-9A-HJ-NP-Za-km-z]{32,128}$'
const HEX64 = '^[0-9a-f]{64}$'
const DEVICE_ID = '^[A-Za-z0-9._-]{1,64}$'

/** Hints added to validation messages, by top-level field name (where ajv's own words are cryptic). */
export const FIELD_HINTS: Record<string, string> = {
  hub: 'a hub is named by its libp2p peer id (base58, e.g. 12D3KooW…)',
  device: 'a device id is 1..64 characters of [A-Za-z0-9._-]',
  account: 'an account is 64 lowercase hex characters (an Ed25519 public key)',
  explain: '?explain= names a registered device',
  block: 'the body must be { "block": ["<peer id>", …] }',
  body: 'the body must be { "block": ["<peer id>", …] }'
}

const error = (description: string, example: string) => ({
  description,
  type: 'object',
  required: ['error'],
  properties: {
    error: { type: 'string', description: 'Machine-readable error code', example },
    message: { type: 'string', description: 'What went wrong, naming the field' }
  }
})

const badRequest = error('Bad input: a parameter, query field or body that does not match this schema', 'bad-request')
const notFound = error('Nothing found for these (valid) parameters', 'not-found')
const unauthorized = error('Missing or wrong `Authorization: Bearer <token>` (the token is in `<data-dir>/api.token`)', 'unauthorized')

/** Big integers (mWh, token units) travel as decimal strings. */
const bigint = (description: string) => ({ type: 'string', pattern: '^[0-9]+$', description })

const entry = {
  type: 'object',
  description: 'One signed entry of a hub log',
  additionalProperties: true,
  properties: {
    id: { type: 'string', description: 'Entry id (CID of its DAG-CBOR bytes)' },
    hub: { type: 'string', description: 'Peer id of the hub whose log this is' },
    seq: { type: 'integer', description: 'Position in that log, from 1' },
    prev: { type: ['string', 'null'], description: 'Id of the entry at seq − 1 (null at seq 1)' },
    epoch: { type: 'integer', description: 'Epoch of the entry\'s own signed time' },
    time: { type: 'integer', description: 'Signed time of the entry (unix ms, the hub\'s clock)' },
    reports: {
      type: 'array',
      description: 'The device usage reports in this entry',
      items: {
        type: 'object',
        additionalProperties: true,
        properties: {
          id: { type: 'string', description: 'Report id' },
          device: { type: 'string' },
          counter: { type: 'integer', description: 'Per-device counter, strictly rising' },
          periodStart: { type: 'integer', description: 'Unix s' },
          periodEnd: { type: 'integer', description: 'Unix s' },
          energyMwh: { type: 'integer', description: 'Energy used in the period (mWh)' },
          solarMwh: { type: 'integer', description: 'Solar energy harvested in the period (mWh)' },
          litS: { type: 'integer', description: 'Seconds lit in the period' },
          batteryMv: { type: 'integer' },
          soc: { type: 'integer', description: 'Battery state of charge (%)' },
          tempDeciC: { type: 'integer', description: 'Temperature (0.1 °C)' },
          faults: { type: 'integer', description: 'Fault bit field' }
        }
      }
    }
  }
}

const epochSummary = {
  type: 'object',
  description: 'A decided epoch: its value (cut and tally root), certificate and totals',
  additionalProperties: true,
  properties: {
    epoch: { type: 'integer' },
    valueId: { type: 'string', description: 'hex sha256 of the DAG-CBOR epoch value' },
    root: { type: 'string', description: 'Merkle root of the epoch\'s tally (hex); reward proofs verify against it' },
    prev: { type: ['string', 'null'], description: 'Value id of epoch − 1 (null for epoch 0)' },
    round: { type: 'integer', description: 'Tendermint round of the decision' },
    signers: { type: 'array', items: { type: 'string' }, description: 'Peer ids of the hubs whose precommits are in the certificate (> 2/3)' },
    cut: {
      type: 'array',
      description: 'For every validator, in validator order: the last entry of its log that counts up to this epoch',
      items: { type: 'object', properties: { hub: { type: 'string' }, seq: { type: 'integer' }, id: { type: ['string', 'null'] } } }
    },
    totals: { type: 'object', additionalProperties: { type: 'string' }, description: 'Tally totals (countedMwh, paid, distributable, …) as decimal strings' },
    certificate: { type: 'string', description: 'The certificate bytes (base64 DAG-CBOR); verify with the network file' }
  }
}

const status = {
  type: 'object',
  description: 'Hub status',
  additionalProperties: true,
  properties: {
    peerId: { type: 'string' },
    network: { type: 'string', description: 'Network id' },
    validator: { type: 'boolean', description: 'Whether this hub is a validator (has a log) of the network' },
    addrs: { type: 'array', items: { type: 'string' }, description: 'libp2p listen multiaddrs' },
    peers: { type: 'integer', description: 'Connected libp2p peers' },
    heads: {
      type: 'object',
      description: 'Per hub (peer id): the last entry of its log held here',
      additionalProperties: { type: 'object', properties: { seq: { type: 'integer' }, id: { type: 'string' } } }
    },
    reports: { type: 'integer', description: 'Device reports stored (all logs)' },
    evidence: { type: 'integer', description: 'Equivocation evidence stored since start' },
    uptimeS: { type: 'integer' },
    ingest: { type: 'object', additionalProperties: { type: 'number' }, description: 'Entry ingest counters: appended, duplicate, pending (bytes), evidence' },
    sync: { type: 'object', additionalProperties: { type: 'number' }, description: 'Sync counters: rounds, fetched, errors, served' },
    gossip: { type: 'object', additionalProperties: { type: 'number' }, description: 'Gossip validation results: "<topic> <accept|reject|ignore> <code>" → count' },
    log: { type: 'object', additionalProperties: { type: 'number' }, description: 'This hub\'s own log (validators): stored, duplicate, refused, busy, entries' },
    devices: { type: 'integer', description: 'Devices known to this hub\'s links' },
    deviceLinks: { type: 'object', additionalProperties: true, description: 'Counters of each device link (emulator, serial, mqtt), by link name' },
    lastEpoch: { type: ['integer', 'null'], description: 'Last decided epoch, or null' },
    agreement: { type: 'object', additionalProperties: { type: 'number' }, description: 'Agreement counters: decided, adopted, proposals, invalid, evidence' }
  }
}

const hubParam = { type: 'string', pattern: PEER_ID, description: 'Peer id of a hub of the network' }
const epochParam = { type: 'integer', minimum: 0, description: 'Epoch number (≥ 0)' }

export const schemas = {
  status: {
    tags: ['hub'],
    summary: 'Hub status: identity, peers, log heads, counters, last decided epoch',
    response: { 200: status }
  },

  peers: {
    tags: ['hub'],
    summary: 'Connected libp2p peers, one row per peer',
    response: {
      200: {
        description: 'Connected peers',
        type: 'array',
        items: {
          type: 'object',
          required: ['peerId', 'addrs', 'validator', 'direction'],
          properties: {
            peerId: { type: 'string' },
            addrs: { type: 'array', items: { type: 'string' }, description: 'Remote multiaddrs of the open connections to this peer' },
            validator: { type: 'boolean', description: 'Whether the peer is a hub (validator) of this network' },
            direction: { type: 'string', enum: ['inbound', 'outbound'], description: 'Who dialled (of the first open connection)' }
          }
        }
      }
    }
  },

  devices: {
    tags: ['devices'],
    summary: 'Devices on this hub\'s links: link, last report, counter, battery, errors, last refusal',
    response: {
      200: {
        description: 'One row per device',
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: true,
          properties: {
            device: { type: 'string' },
            link: { type: 'string', description: 'emulator, serial:<path>, mqtt, …' },
            connected: { type: 'boolean' },
            lastReportAt: { type: 'integer', description: 'ms since epoch' },
            counter: { type: 'integer', description: 'Last counter the hub acknowledged' },
            batteryMv: { type: 'integer' },
            soc: { type: 'number' },
            energyTodayMwh: { type: 'integer' },
            errors: { type: 'integer' },
            lastError: { type: 'string' },
            lastRefusal: { type: 'string', description: 'Why the hub last refused a report for good (e.g. counter-reused, clock)' },
            lastRefusalCounter: { type: 'integer' }
          }
        }
      }
    }
  },

  logs: {
    tags: ['logs'],
    summary: 'A page of one hub\'s log, as stored here',
    params: { type: 'object', required: ['hub'], properties: { hub: hubParam } },
    querystring: {
      type: 'object',
      properties: {
        from: { type: 'integer', minimum: 1, default: 1, description: 'First seq (≥ 1)' },
        limit: { type: 'integer', minimum: 1, maximum: 256, default: 20, description: 'Entries at most (1..256)' }
      }
    },
    response: { 200: { description: 'Entries from `from` on (fewer at the head; empty past it)', type: 'array', items: entry }, 400: badRequest, 404: notFound }
  },

  report: {
    tags: ['logs'],
    summary: 'Where one device report is stored (hub log, seq, index)',
    params: {
      type: 'object',
      required: ['device', 'counter'],
      properties: {
        device: { type: 'string', pattern: DEVICE_ID, description: 'Registered device id' },
        counter: { type: 'integer', minimum: 1, description: 'Report counter (≥ 1)' }
      }
    },
    response: {
      200: {
        description: 'The report\'s place',
        type: 'object',
        properties: {
          device: { type: 'string' },
          counter: { type: 'integer' },
          hub: { type: 'string', description: 'Hub (log) the device is registered to' },
          seq: { type: 'integer', description: 'Entry seq in that log' },
          index: { type: 'integer', description: 'Index of the report in the entry' }
        }
      },
      400: badRequest,
      404: notFound
    }
  },

  events: {
    tags: ['events'],
    summary: 'Server-Sent Events: stored entries, evidence, decided epochs',
    description: [
      'A `text/event-stream` that stays open. Each event is `event: <type>` then `data: <JSON>`; lines starting with `:` are comments (a ping every 15 s).',
      'A client that falls more than 1 MiB behind is disconnected and should reconnect.',
      '',
      '- `entry`: an entry of any hub\'s log was stored here. Data: `{ hub, seq, id, epoch, time (unix ms), reports (count), storedAt (ms, our clock), reportIds ["<device>:<counter>", …] }`.',
      '- `evidence`: equivocation evidence was stored. Data: `{ id (hex sha256 of the evidence), kind ("entry" | "report" | "vote"), offender (hub peer id or device id), slot (entry seq, report counter, or vote epoch) }`.',
      '- `certificate`: an epoch was decided. Data: `{ epoch, valueId, signers [peer ids], countedMwh (string), paid (string) }`.'
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
  },

  epochs: {
    tags: ['agreement'],
    summary: 'Decided epochs in order (default: the last 50)',
    querystring: {
      type: 'object',
      properties: {
        from: { type: 'integer', minimum: 0, description: 'First epoch (default: last decided − limit + 1)' },
        limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50, description: 'Epochs at most (1..1000)' }
      }
    },
    response: { 200: { description: 'Decided epochs', type: 'array', items: epochSummary }, 400: badRequest }
  },

  epoch: {
    tags: ['agreement'],
    summary: 'One decided epoch',
    params: { type: 'object', required: ['epoch'], properties: { epoch: epochParam } },
    response: { 200: epochSummary, 400: badRequest, 404: notFound }
  },

  rewards: {
    tags: ['agreement'],
    summary: 'An account\'s reward in an epoch and cumulative, with a Merkle proof against the epoch root',
    description: 'Verify `proof` against the `root` of the epoch\'s certificate (GET /epochs/{epoch}), not against the root in this answer.',
    params: { type: 'object', required: ['account'], properties: { account: { type: 'string', pattern: HEX64, description: 'Capex or opex account (64 hex)' } } },
    querystring: { type: 'object', properties: { epoch: { ...epochParam, description: 'Epoch (default: the last decided)' } } },
    response: {
      200: {
        description: 'Reward and proof (proof is null when the account earned nothing up to this epoch)',
        type: 'object',
        properties: {
          account: { type: 'string' },
          epoch: { type: 'integer' },
          root: { type: 'string', description: 'Tally root of the epoch' },
          epochAmount: bigint('Earned in this epoch'),
          cumulative: bigint('Earned up to and including this epoch'),
          proof: {
            type: ['object', 'null'],
            properties: {
              leaf: { type: 'string', description: 'The account leaf (hex DAG-CBOR: account, epoch, amount, cumulative)' },
              path: {
                type: 'array',
                description: 'Sibling hashes from the leaf up to the root',
                items: { type: 'object', properties: { side: { type: 'string', enum: ['left', 'right'] }, hash: { type: 'string' } } }
              },
              root: { type: 'string' }
            }
          }
        }
      },
      400: badRequest,
      404: notFound
    }
  },

  tally: {
    tags: ['agreement'],
    summary: 'Why each report of a device counted or not in a decided epoch',
    params: { type: 'object', required: ['epoch'], properties: { epoch: epochParam } },
    querystring: {
      type: 'object',
      required: ['explain'],
      properties: { explain: { type: 'string', pattern: DEVICE_ID, description: 'Registered device id' } }
    },
    response: {
      200: {
        description: 'The device\'s tally explanation',
        type: 'object',
        additionalProperties: true,
        properties: {
          device: { type: 'string' },
          row: { type: ['object', 'null'], additionalProperties: true, description: 'Reward row (countedMwh, reward, capex, opex as strings; capexAccount, opexAccount), or null' },
          reports: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: true,
              properties: {
                hub: { type: 'string' },
                seq: { type: 'integer' },
                index: { type: 'integer' },
                reportId: { type: 'string' },
                counter: { type: 'integer' },
                status: { type: 'string', enum: ['counted', 'rejected'] },
                reason: { type: ['string', 'null'], description: 'unregistered, equivocated, wrong-hub, implausible, duplicate, over-cap; null when counted' },
                countedMwh: { type: 'integer' },
                partial: { type: 'boolean' }
              }
            }
          },
          byStatus: { type: 'object', additionalProperties: { type: 'integer' }, description: 'Reports per status/reason' },
          text: { type: 'string', description: 'Human-readable summary' }
        }
      },
      400: badRequest,
      404: notFound
    }
  },

  evidence: {
    tags: ['evidence'],
    summary: 'Equivocation evidence stored here (up to 100), each base64 DAG-CBOR',
    response: { 200: { description: 'Evidence records', type: 'array', items: { type: 'string', description: 'base64 evidence bytes; decode and verify with the protocol package' } } }
  },

  metrics: {
    tags: ['metrics'],
    summary: 'Prometheus metrics (text exposition format); needs no token',
    description: 'ecandle_* (hub), libp2p_* (connections, streams), gossipsub_* (mesh, messages, scores), process_* and nodejs_* series. See docs/operations.md.',
    response: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } }
  },

  partition: {
    tags: ['admin'],
    summary: 'Refuse to talk to the given peers (a network partition, for tests); an empty list heals',
    security: [{ bearerAuth: [] }],
    body: {
      type: 'object',
      required: ['block'],
      properties: {
        block: { type: 'array', maxItems: 1024, items: { type: 'string', minLength: 1, maxLength: 127 }, description: 'Peer ids to block (replaces the current set)' }
      }
    },
    response: {
      200: { description: 'The peers now blocked', type: 'object', properties: { blocked: { type: 'array', items: { type: 'string' } } } },
      400: badRequest,
      401: unauthorized
    }
  }
}

export const openapiInfo = {
  title: 'eCandle hub API',
  description: 'The local HTTP API of an eCandle Mesh hub. Read-only except /admin/*, which needs `Authorization: Bearer <token>` from `<data-dir>/api.token`. Listens on 127.0.0.1 unless configured otherwise.'
}
