import type { AddressInfo } from 'node:net';
import { insertUsageBatch, type UsageRow } from '@flowbill/shared/clickhouse/index';
import { describe, expect, it } from 'vitest';
import { runUsageLoad } from '../bench/usage-load.js';
import { withApiStack } from './support/api-stack.js';

const stack = withApiStack();

describe('usage route over a real port under load', () => {
  it('serves a 2 s autocannon run without errors or non-2xx answers', async () => {
    await stack.createSubscriber('sub-load');
    const key = await stack.createApiKey();
    const dayStart = Date.parse('2026-03-01T00:00:00Z') / 1000;
    const rows: UsageRow[] = [];
    for (let minute = 0; minute < 24 * 60; minute += 7) {
      for (const direction of ['download', 'upload'] as const) {
        rows.push({
          minute: dayStart + minute * 60,
          subscriberId: 'sub-load',
          address: '198.51.100.7',
          direction,
          trafficClass: minute % 2 === 0 ? 'internet' : 'local',
          bytes: 1_000n + BigInt(minute),
          packets: 10n,
          flows: 1n,
        });
      }
    }
    await insertUsageBatch(stack.clickhouse.ch, 'load', rows);

    await stack.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = stack.app.server.address() as AddressInfo;
    const baseUrl = `http://127.0.0.1:${port}`;

    // What every load request will get: checked once, so "2xx" below means a real answer.
    const probe = await fetch(`${baseUrl}/v1/subscribers/sub-load/usage?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&step=1h`, {
      headers: { 'x-api-key': key },
    });
    expect(probe.status).toBe(200);
    const body = (await probe.json()) as { series: unknown[]; totals: { packets: string } };
    expect(body.series).toHaveLength(24);
    expect(body.totals.packets).toBe(String(rows.length * 10));

    const summary = await runUsageLoad({
      baseUrl,
      apiKey: key,
      subscriberId: 'sub-load',
      from: '2026-03-01T00:00:00Z',
      to: '2026-03-02T00:00:00Z',
      step: '1h',
      durationSeconds: 2,
      connections: 4,
    });
    expect(summary).toMatchObject({ errors: 0, timeouts: 0, non2xx: 0 });
    expect(summary.requests).toBeGreaterThan(0);
  });
});
