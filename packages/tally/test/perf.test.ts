import assert from 'node:assert/strict';
import { genesisState, tally, type DeviceInfo, type SegmentReport, type TallyInput } from '../src/index.js';

/** 100,000 reports over 5 hubs and 2,000 devices, delivered in reverse order, a few bad ones mixed in. */
function bigInput(n: number): TallyInput {
  const hubs = 5;
  const ndev = 2000;
  const devices = new Map<string, DeviceInfo>();
  for (let d = 0; d < ndev; d++) {
    const id = `dev${d.toString(16).padStart(8, '0')}`;
    devices.set(id, { id, hub: `hub${d % hubs}`, capex: `c${(d % 50).toString(16)}`, opex: `0${(d % 300).toString(16)}`, ratedWhPerDay: 50 });
  }
  const ids = [...devices.keys()];
  const counters = new Array<number>(ndev).fill(0);
  const segment: SegmentReport[] = [];
  for (let i = 0; i < n; i++) {
    const d = (i * 7919) % ndev;
    const c = ++counters[d];
    const start = 1_700_000_000 + c * 3600;
    segment.push({
      hub: `hub${d % hubs}`,
      seq: i,
      index: 0,
      reportId: `r${i.toString(16)}`,
      device: ids[d],
      counter: c,
      periodStart: start,
      periodEnd: start + 3600,
      energyMwh: i % 997 === 0 ? 1e7 : 1000 + (i % 2000),
      solarMwh: 1000,
      litS: 100,
    });
  }
  segment.reverse();
  return {
    epoch: 0,
    params: { emissionPerEpoch: 10n ** 24n, capexBps: 3000, deviceCapMwhPerEpoch: 60_000n },
    devices,
    segment,
    prev: genesisState(),
    equivocated: new Set(),
  };
}

describe('performance', () => {
  it('tallies 100,000 reports in well under a second', function () {
    const input = bigInput(100_000);
    const t0 = performance.now();
    const r = tally(input);
    const cold = performance.now() - t0;
    const t1 = performance.now();
    tally(input);
    const warm = performance.now() - t1;
    console.log(`      100k reports: cold ${cold.toFixed(0)} ms, warm ${warm.toFixed(0)} ms (${r.devices.length} devices, ${r.accounts.length} accounts)`);
    assert.equal(r.statuses.length, 100_000);
    assert.ok(r.statuses.some((s) => s.reason === 'over-cap') && r.statuses.some((s) => s.reason === 'implausible'));
    assert.equal(r.totals.paid + r.totals.dust, 10n ** 24n);
    assert.ok(cold < 1000, `took ${cold.toFixed(0)} ms`);
  });
});
