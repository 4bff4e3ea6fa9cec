import assert from 'node:assert/strict'
import { REASON_PRECEDENCE } from '@ecandle/tally'
import { REFUSAL_REASONS } from '@ecandle/protocol'
import { DeviceLinkStatus, Explanation, routePath, routes } from '../src/index.js'

describe('the API contract', () => {
  it('every route names each :param of its URL in its params schema, and documents its 200 answer', () => {
    for (const [name, r] of Object.entries(routes)) {
      const inUrl = [...r.url.matchAll(/:([A-Za-z]+)/g)].map(m => m[1]).sort()
      const schema = r.schema as { params?: { properties: object }, response: Record<number, unknown> }
      assert.deepEqual(Object.keys(schema.params?.properties ?? {}).sort(), inUrl, `${name}: ${r.url}`)
      assert.ok(schema.response[200] !== undefined, `${name} documents 200`)
    }
  })

  it('routePath fills in and encodes the params, and refuses a missing one', () => {
    assert.equal(routePath(routes.report, { device: 'd/1', counter: 7 }), '/reports/d%2F1/7')
    assert.equal(routePath(routes.status), '/status')
    assert.throws(() => routePath(routes.logs, {}), /no value for :hub/)
  })

  it('code lists come from their owners: refusal reasons from the protocol, reason codes from the tally', () => {
    assert.deepEqual((DeviceLinkStatus.properties.lastRefusal as unknown as { enum: string[] }).enum, [...REFUSAL_REASONS])
    assert.deepEqual(Object.keys(Explanation.properties.byStatus.properties).sort(), ['counted', ...REASON_PRECEDENCE].sort())
  })
})
