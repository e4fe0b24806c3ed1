import type { Queryable } from '@flowbill/shared/postgres/index';
import type { UsageSnapshot, UsageTotal } from '../usage/load-usage.js';

export interface Watermark {
  subscriberId: string;
  periodKey: string;
  revision: number;
  source: 'finalize' | 'late-usage' | 'rerate';
  documentId: string | null;
  usageFrom: Date;
  usageTo: Date;
  totals: UsageTotal[];
  bucketCount: number;
  usageRows: string;
  newestInsertedAt: Date | null;
  recordedAt: Date;
}

interface WatermarkRow {
  subscriber_id: string;
  period_key: string;
  revision: number;
  source: Watermark['source'];
  document_id: string | null;
  usage_from: Date;
  usage_to: Date;
  usage_totals: UsageTotal[];
  bucket_count: number;
  usage_rows: string;
  newest_inserted_at: Date | null;
  recorded_at: Date;
}

export async function latestWatermark(client: Queryable, subscriberId: string, periodKey: string): Promise<Watermark | null> {
  const { rows } = await client.query<WatermarkRow>(
    'SELECT * FROM usage_watermarks WHERE subscriber_id = $1 AND period_key = $2 ORDER BY revision DESC LIMIT 1',
    [subscriberId, periodKey],
  );
  return rows.length === 0 ? null : toWatermark(rows[0]);
}

export async function listWatermarks(client: Queryable, subscriberId: string, periodKey: string): Promise<Watermark[]> {
  const { rows } = await client.query<WatermarkRow>('SELECT * FROM usage_watermarks WHERE subscriber_id = $1 AND period_key = $2 ORDER BY revision', [
    subscriberId,
    periodKey,
  ]);
  return rows.map(toWatermark);
}

export async function insertWatermark(
  client: Queryable,
  entry: { subscriberId: string; periodKey: string; revision: number; source: Watermark['source']; documentId: string | null; usage: UsageSnapshot },
): Promise<void> {
  await client.query(
    `INSERT INTO usage_watermarks (subscriber_id, period_key, revision, source, document_id, usage_from, usage_to, usage_totals, bucket_count, usage_rows, newest_inserted_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      entry.subscriberId,
      entry.periodKey,
      entry.revision,
      entry.source,
      entry.documentId,
      new Date(entry.usage.from),
      new Date(entry.usage.to),
      JSON.stringify(entry.usage.totals),
      entry.usage.buckets.length,
      entry.usage.rowCount,
      entry.usage.newestInsertedAt === null ? null : new Date(entry.usage.newestInsertedAt),
    ],
  );
}

function toWatermark(row: WatermarkRow): Watermark {
  return {
    subscriberId: row.subscriber_id,
    periodKey: row.period_key,
    revision: row.revision,
    source: row.source,
    documentId: row.document_id,
    usageFrom: row.usage_from,
    usageTo: row.usage_to,
    totals: row.usage_totals,
    bucketCount: row.bucket_count,
    usageRows: row.usage_rows,
    newestInsertedAt: row.newest_inserted_at,
    recordedAt: row.recorded_at,
  };
}
