/**
 * Real PostgreSQL (a private database per test file) and real ClickHouse (a private
 * server per file, a fresh database per test), both migrated with the project
 * migrations, and a BillingService on them with a fixed clock.
 */
import { randomBytes } from 'node:crypto';
import { insertUsageBatch, type ClickHouse } from '@flowbill/shared/clickhouse/index';
import { createTestDatabase, type TestDatabase } from '@flowbill/shared/testing/postgres';
import { withClickHouse } from '@flowbill/shared/testing/clickhouse';
import { DateTime } from 'luxon';
import type pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { BillingService } from '../../../src/billing/index.js';
import { ACTIVATED_AT, homeMetered, PLAN_V1_EFFECTIVE, router } from './tariffs.js';

export interface BillingHarness {
  readonly pool: pg.Pool;
  readonly ch: ClickHouse;
  /** A service on this test's ClickHouse database; corrections are issued at ISSUED_AT. */
  service(): BillingService;
}

export const ISSUED_AT = new Date('2026-05-20T09:00:00Z');

export function withBillingStores(): BillingHarness {
  let db: TestDatabase | undefined;
  const clickhouse = withClickHouse({ migrate: true });
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });
  const pool = () => {
    if (db === undefined) throw new Error('the test database exists inside tests only');
    return db.pool;
  };
  return {
    get pool() {
      return pool();
    },
    get ch() {
      return clickhouse.ch;
    },
    service() {
      return new BillingService({ pool: pool(), clickhouse: clickhouse.ch, clock: () => ISSUED_AT });
    },
  };
}

/** A subscriber row as the collector's import would create it; ids are unique per test. */
export async function createSubscriber(pool: pg.Pool, prefix: string, timeZone = 'Europe/Moscow', exactId?: string): Promise<string> {
  const id = exactId ?? `${prefix}-${randomBytes(3).toString('hex')}`;
  await pool.query('INSERT INTO subscribers (id, name, time_zone) VALUES ($1, $2, $3)', [id, `Subscriber ${id}`, timeZone]);
  return id;
}

export interface UsageEntry {
  /** Minute start, ISO-8601 with offset. */
  at: string;
  bytes: bigint;
  direction?: 'download' | 'upload';
  trafficClass?: string;
}

/** Usage as the flusher writes it: one usage_1m batch (the rollups follow by materialized view). */
export async function insertUsage(ch: ClickHouse, subscriberId: string, entries: readonly UsageEntry[]): Promise<void> {
  await insertUsageBatch(
    ch,
    `test-${randomBytes(6).toString('hex')}`,
    entries.map((entry) => ({
      minute: DateTime.fromISO(entry.at, { setZone: true }).toMillis() / 1000,
      subscriberId,
      address: '192.0.2.10',
      direction: entry.direction ?? 'download',
      trafficClass: entry.trafficClass ?? 'internet',
      bytes: entry.bytes,
      packets: 1n,
      flows: 1n,
    })),
  );
}

export const GB = 1_000_000_000n;
export const HOUR_MS = 3_600_000;

/** An invoice's header, lines and tariff references exactly as stored, for before/after comparisons. */
export async function invoiceRows(pool: pg.Pool, invoiceId: string): Promise<{ header: unknown[]; lines: unknown[]; tariffVersions: unknown[] }> {
  const header = await pool.query('SELECT * FROM invoices WHERE id = $1', [invoiceId]);
  const lines = await pool.query('SELECT * FROM invoice_lines WHERE invoice_id = $1 ORDER BY line_no', [invoiceId]);
  const tariffVersions = await pool.query('SELECT * FROM invoice_tariff_versions WHERE invoice_id = $1 ORDER BY tariff_id, version', [invoiceId]);
  return { header: header.rows, lines: lines.rows, tariffVersions: tariffVersions.rows };
}

/**
 * A subscriber on the worked-example plan `planId` (published as version 1 from
 * 2025-01-01) since 3 November 2025, with the router add-on from activation.
 */
export async function seedSubscriber(
  harness: BillingHarness,
  options: { prefix: string; planId: string; routerId?: string; timeZone?: string; exactId?: string },
): Promise<string> {
  const service = harness.service();
  await service.publishTariffVersion(homeMetered({ id: options.planId, version: 1 }), PLAN_V1_EFFECTIVE);
  const subscriberId = await createSubscriber(harness.pool, options.prefix, options.timeZone, options.exactId);
  await service.subscribe({ subscriberId, tariffId: options.planId, activatedAt: ACTIVATED_AT });
  if (options.routerId !== undefined) {
    await service.publishTariffVersion(router(options.routerId), PLAN_V1_EFFECTIVE, { kind: 'addon' });
    await service.addAddOn({ subscriberId, addOnId: 'router', tariffId: options.routerId, activeFrom: ACTIVATED_AT });
  }
  return subscriberId;
}
