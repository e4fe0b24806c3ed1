/** The README's analyst queries run on the test server (18.16 in CI) against the real schema. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { withClickHouse } from '../testing/clickhouse.js';
import { splitStatements } from './split-statements.js';
import { insertUsageBatch } from './usage-queries.js';

const ctx = withClickHouse({ migrate: true });

const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
const queries = [...readme.matchAll(/```sql\n([\s\S]*?)```/g)].flatMap((match) => splitStatements(match[1]));

describe('README analyst queries', () => {
  it('are there', () => {
    expect(queries.length).toBeGreaterThanOrEqual(8);
  });

  it.each(queries.map((q) => [q.split('\n')[0], q]))('runs: %s', async (_title, query) => {
    const day = Date.UTC(2024, 2, 10) / 1000;
    await insertUsageBatch(
      ctx.ch,
      `${day}-readme`,
      [0, 60, 420, 3_600].map((offset, i) => ({
        minute: day + offset,
        subscriberId: 'sub-42',
        address: '192.0.2.42',
        direction: 'download' as const,
        trafficClass: 'internet',
        bytes: BigInt(1_000 * (i + 1)),
        packets: 1n,
        flows: 1n,
      })),
    );
    if (/^(ALTER|DROP|CREATE)/.test(query)) {
      // Partition maintenance on an empty table: must parse and succeed.
      await ctx.ch.command(query);
    } else {
      await ctx.ch.query(query);
    }
  });

  it('the consistency query finds the rollups equal to usage_1m', async () => {
    const day = Date.UTC(2024, 2, 10) / 1000;
    await insertUsageBatch(ctx.ch, 'c1', [{ minute: day + 120, subscriberId: 's', address: 'a', direction: 'upload', trafficClass: 'x', bytes: 7n, packets: 1n, flows: 1n }]);
    await insertUsageBatch(ctx.ch, 'c2', [{ minute: day + 120, subscriberId: 's', address: 'a', direction: 'upload', trafficClass: 'x', bytes: 5n, packets: 1n, flows: 1n }]);
    const consistency = queries.find((q) => q.includes('AS from_1d'));
    expect(consistency).toBeDefined();
    expect(await ctx.ch.query(consistency!)).toEqual([{ from_1m: '12', from_1h: '12', from_1d: '12' }]);
  });
});
