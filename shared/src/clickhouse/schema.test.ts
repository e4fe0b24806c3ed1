/**
 * The base schema's materialized views, on a server whose time zone is not UTC (India,
 * +05:30): rollup buckets must still be UTC hours and days.
 */
import { describe, expect, it } from 'vitest';
import { withClickHouse } from '../testing/clickhouse.js';
import { sql, str } from './sql.js';
import { insertUsageBatch, insertUsageBatches, type UsageRow } from './usage-queries.js';

const ctx = withClickHouse({ migrate: true, server: { timezone: 'Asia/Kolkata' } });

const DAY = Date.UTC(2024, 0, 31) / 1000; // 2024-01-31T00:00:00Z
const HOUR = 3_600;

function row(minute: number, overrides: Partial<UsageRow> = {}): UsageRow {
  return {
    minute,
    subscriberId: 'sub-1',
    address: '192.0.2.10',
    direction: 'download',
    trafficClass: 'internet',
    bytes: 1_000n,
    packets: 10n,
    flows: 1n,
    ...overrides,
  };
}

interface RollupRow {
  bucket: number;
  address: string;
  direction: string;
  bytes: string;
  packets: string;
  flows: string;
}

async function rollup(table: 'usage_1h' | 'usage_1d', column: 'hour' | 'day'): Promise<RollupRow[]> {
  return ctx.ch.query<RollupRow>(`
    SELECT toUInt32(${column}) AS bucket, address, direction,
           sum(bytes) AS bytes, sum(packets) AS packets, sum(flows) AS flows
    FROM ${table}
    GROUP BY bucket, address, direction
    ORDER BY bucket, address, direction`);
}

describe('materialized views fed by usage_1m', () => {
  it('roll minutes up into UTC hours and days whatever the server time zone', async () => {
    const [{ tz }] = await ctx.ch.query<{ tz: string }>('SELECT timezone() AS tz');
    expect(tz).toBe('Asia/Kolkata');

    await insertUsageBatch(ctx.ch, 'b1', [
      row(DAY + 0 * 60, { bytes: 100n, packets: 1n, flows: 1n }),
      row(DAY + 59 * 60, { bytes: 200n, packets: 2n, flows: 2n }),
      row(DAY + HOUR, { bytes: 400n, packets: 4n, flows: 0n }), // next hour
      row(DAY + 30 * 60, { address: '2001:db8::1', bytes: 800n, packets: 8n, flows: 1n }),
      row(DAY + 30 * 60, { direction: 'upload', bytes: 16n, packets: 1n, flows: 1n }),
      row(DAY - 60, { bytes: 3_200n, packets: 32n, flows: 3n }), // 23:59 the day before (UTC)
    ]);

    expect(await rollup('usage_1h', 'hour')).toEqual([
      { bucket: DAY - HOUR, address: '192.0.2.10', direction: 'download', bytes: '3200', packets: '32', flows: '3' },
      { bucket: DAY, address: '192.0.2.10', direction: 'download', bytes: '300', packets: '3', flows: '3' },
      { bucket: DAY, address: '192.0.2.10', direction: 'upload', bytes: '16', packets: '1', flows: '1' },
      { bucket: DAY, address: '2001:db8::1', direction: 'download', bytes: '800', packets: '8', flows: '1' },
      { bucket: DAY + HOUR, address: '192.0.2.10', direction: 'download', bytes: '400', packets: '4', flows: '0' },
    ]);
    expect(await rollup('usage_1d', 'day')).toEqual([
      { bucket: DAY - 24 * HOUR, address: '192.0.2.10', direction: 'download', bytes: '3200', packets: '32', flows: '3' },
      { bucket: DAY, address: '192.0.2.10', direction: 'download', bytes: '700', packets: '7', flows: '3' },
      { bucket: DAY, address: '192.0.2.10', direction: 'upload', bytes: '16', packets: '1', flows: '1' },
      { bucket: DAY, address: '2001:db8::1', direction: 'download', bytes: '800', packets: '8', flows: '1' },
    ]);
  });

  it('records every batch of an INSERT in flush_batches with its first minute and row count', async () => {
    await insertUsageBatches(ctx.ch, [
      { batchId: `${DAY + 120}-aaaa`, rows: [row(DAY + 120), row(DAY + 120, { address: '192.0.2.11' })] },
      { batchId: `${DAY + 60}-bbbb`, rows: [row(DAY + 60)] },
    ]);
    // A late second batch for a minute that was already flushed, in its own INSERT.
    await insertUsageBatch(ctx.ch, `${DAY + 60}-cccc`, [row(DAY + 60, { bytes: 5n })]);
    const rows = await ctx.ch.query(
      'SELECT batch_id, toUInt32(minute) AS minute, sum(row_count) AS row_count FROM flush_batches GROUP BY batch_id, minute ORDER BY batch_id',
    );
    expect(rows).toEqual([
      { batch_id: `${DAY + 60}-bbbb`, minute: DAY + 60, row_count: '1' },
      { batch_id: `${DAY + 60}-cccc`, minute: DAY + 60, row_count: '1' },
      { batch_id: `${DAY + 120}-aaaa`, minute: DAY + 120, row_count: '2' },
    ]);
    const [{ inserted }] = await ctx.ch.query<{ inserted: number }>('SELECT min(toUInt32(inserted_at)) AS inserted FROM flush_batches');
    expect(Math.abs(inserted - Date.now() / 1000)).toBeLessThan(120);
  });

  it('keeps the sums when SummingMergeTree merges the rollup parts', async () => {
    for (let i = 0; i < 5; i++) await insertUsageBatch(ctx.ch, `m-${i}`, [row(DAY + i * 60, { bytes: BigInt(10 ** i) })]);
    const [{ parts }] = await ctx.ch.query<{ parts: string }>(
      sql`SELECT count() AS parts FROM system.parts WHERE database = ${str(ctx.database)} AND table = 'usage_1h' AND active`,
    );
    expect(Number(parts)).toBe(5);
    await ctx.ch.command('OPTIMIZE TABLE usage_1h FINAL');
    const merged = await ctx.ch.query('SELECT toUInt32(hour) AS hour, bytes FROM usage_1h');
    expect(merged).toEqual([{ hour: DAY, bytes: '11111' }]); // one row now, summed by the engine
  });
});
