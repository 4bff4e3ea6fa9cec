import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { routes, type GovOperationJson } from '@ecandle/api'
import { signApproval, ValidationError, verifyResolution, type VerifiedResolution } from '@ecandle/protocol'
import type { Hub } from './hub.js'
import { operationJson, registryJson } from './governance/json.js'

/** Decided epochs `GET /gov` looks back over. */
const DECIDED_LOOKBACK = 256

/** The governance routes of the local API (docs/operations.md): reads open, writes with the token. */
export function registerGovernanceRoutes (app: FastifyInstance<any, any, any, any, TypeBoxTypeProvider>, hub: Hub): void {
  // Decided resolutions never change: each epoch's are verified once and kept (bounded by the look-back).
  const decided = new Map<number, VerifiedResolution[]>()
  const decidedAt = async (e: number): Promise<VerifiedResolution[]> => {
    let rs = decided.get(e)
    if (rs === undefined) {
      rs = (await hub.agreement.resolutions(e)).map(b => verifyResolution(hub.net.id, b))
      decided.set(e, rs)
      for (const k of decided.keys()) if (k <= e - DECIDED_LOOKBACK || k > e + DECIDED_LOOKBACK) decided.delete(k)
    }
    return rs
  }
  app.get(routes.gov.url, { schema: routes.gov.schema }, async () => {
    const s = hub.chain.latest
    const operations: GovOperationJson[] = []
    const seen = new Set<string>()
    const last = hub.agreement.lastDecided?.epoch ?? -1
    for (let e = last; e >= 0 && e > last - DECIDED_LOOKBACK; e--) {
      for (const r of await decidedAt(e)) {
        seen.add(r.op.id)
        operations.push(operationJson(s, r.op, r.approvals, e))
      }
    }
    for (const p of hub.governance.pool.entries()) {
      if (!seen.has(p.id)) operations.push(operationJson(s, p.op, p.approvals, null))
    }
    return { epoch: s.epoch, operations }
  })

  app.get(routes.registry.url, { schema: routes.registry.schema }, async (req, reply) => {
    const e = req.query.epoch ?? hub.chain.latest.epoch
    if (e > hub.chain.latest.epoch) return await reply.code(404).send({ error: 'not-found', message: `epoch ${e}: the state is known up to epoch ${hub.chain.latest.epoch}` })
    const s = await hub.agreement.stateOf(e)
    return s === undefined ? await reply.code(404).send({ error: 'not-found', message: `epoch ${e}: no state here` }) : registryJson(s)
  })

  app.post(routes.govSubmit.url, { schema: routes.govSubmit.schema }, async (req, reply) => {
    const bytes = Buffer.from(req.body.message, 'base64')
    try {
      const m = await hub.governance.submit(new Uint8Array(bytes))
      return { kind: m.kind, id: m.id }
    } catch (err) {
      if (err instanceof ValidationError) return await reply.code(400).send({ error: err.code, message: `${err.action}: ${err.message}` })
      throw err
    }
  })

  app.post(routes.govApprove.url, { schema: routes.govApprove.schema }, async (req, reply) => {
    const { op, yes } = req.body
    if (hub.governance.pool.operation(op) === undefined) return await reply.code(404).send({ error: 'not-found', message: `operation ${op} is not in this hub's pool` })
    try {
      const m = await hub.governance.submit(signApproval(hub.net.id, hub.signer, { op, as: 'validator', yes: yes ?? true }))
      return { kind: m.kind, id: m.id }
    } catch (err) {
      if (err instanceof ValidationError) return await reply.code(400).send({ error: err.code, message: `${err.action}: ${err.message}` })
      throw err
    }
  })
}
