import { randomBytes } from 'node:crypto';
import { createPool, migratePostgres } from '@flowbill/shared/postgres/index';
import { createTestDatabase, testServerUrl, type TestDatabase } from '@flowbill/shared/testing/postgres';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseIpv4 } from '@flowbill/shared/ip/index';
import { BatchAttributor, SubscriberIndex, TrafficClassifier, UnattributedTally } from '../attribution/index.js';
import { FlowBatch } from '../decoder/batch.js';
import { AssignmentWatcher, type ReloadReason } from './assignment-watcher.js';
import { assignPrefix, upsertSubscriber } from './repository.js';

const T0 = new Date('2025-03-01T10:00:00Z');
const T = new Date('2025-03-01T10:30:00Z');

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  for (const id of ['alice', 'bob']) await upsertSubscriber(db.pool, { id, name: id });
  await assignPrefix(db.pool, { subscriberId: 'alice', prefix: '100.64.0.7', from: T0 });
});
afterAll(async () => {
  await db?.drop();
});

interface Delivery {
  index: SubscriberIndex;
  reason: ReloadReason;
  at: number;
}

const watchers: AssignmentWatcher[] = [];
afterEach(async () => {
  await Promise.all(watchers.splice(0).map((watcher) => watcher.stop()));
});

function watch(database: TestDatabase, options: { reloadIntervalMs?: number; debounceMs?: number } = {}) {
  const deliveries: Delivery[] = [];
  const log: string[] = [];
  const watcher = new AssignmentWatcher({
    pool: database.pool,
    databaseUrl: database.url,
    reloadIntervalMs: options.reloadIntervalMs ?? 600_000,
    debounceMs: options.debounceMs,
    reconnectMinDelayMs: 50,
    reconnectMaxDelayMs: 200,
    onIndex: (index, info) => deliveries.push({ index, reason: info.reason, at: performance.now() }),
    log: (line) => log.push(line),
  });
  watchers.push(watcher);
  return { watcher, deliveries, log };
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 5_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('AssignmentWatcher', () => {
  it('delivers an index at start and a new one within 2 s of an INSERT (NOTIFY)', async () => {
    const { watcher, deliveries } = watch(db);
    expect(await watcher.start()).toBe(true);
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0].reason).toBe('start');
    expect(deliveries[0].index.subscriberAt('100.64.0.7', T0.getTime())).toBe('alice');

    const inserted = performance.now();
    await assignPrefix(db.pool, { subscriberId: 'bob', prefix: '2001:db8:1:100::/56', from: T0 });
    const delivery = await waitFor('an index with the new assignment', () =>
      deliveries.find((entry) => entry.index.subscriberAt('2001:db8:1:100::1', T0.getTime()) === 'bob'),
    );
    expect(delivery.reason).toBe('notification');
    expect(delivery.at - inserted).toBeLessThan(2_000);
    expect(watcher.stats()).toMatchObject({ failedReloads: 0, listening: true, assignments: 2 });
  });

  it('feeds BatchAttributor: an address reassigned mid-hour is billed by the flow time', async () => {
    const attributor = new BatchAttributor({ subscribers: SubscriberIndex.EMPTY, classifier: TrafficClassifier.allDefault() });
    const watcher = new AssignmentWatcher({
      pool: db.pool,
      databaseUrl: db.url,
      onIndex: (index) => attributor.replaceSubscriberIndex(index),
    });
    watchers.push(watcher);
    await watcher.start();
    await assignPrefix(db.pool, { subscriberId: 'bob', prefix: '100.64.0.7', from: T, reassign: true });
    await waitFor('the reassignment', () => attributor.subscribers.subscriberAt('100.64.0.7', T.getTime()) === 'bob');

    const batch = new FlowBatch(4);
    for (const start of [T.getTime() - 60_000, T.getTime() + 60_000]) {
      const row = batch.claim();
      batch.ipVersion[row] = 4;
      batch.srcAddr4[row] = parseIpv4('100.64.0.7');
      batch.dstAddr4[row] = parseIpv4('192.0.2.1');
      batch.bytesLo[row] = 1500;
      batch.packetsLo[row] = 1;
      batch.samplingRate[row] = 1;
      batch.start[row] = start;
      batch.end[row] = start + 1_000;
    }
    const payers: string[] = [];
    attributor.attribute(batch, (flow) => payers.push(`${flow.subscriberId}:${flow.direction}`), new UnattributedTally());
    expect(payers).toEqual(['alice:upload', 'bob:upload']);
  });

  it('turns a burst of changes into a few reloads, ending with all of them', async () => {
    const { watcher, deliveries } = watch(db, { debounceMs: 200 });
    await watcher.start();
    for (let k = 0; k < 20; k++) await assignPrefix(db.pool, { subscriberId: 'bob', prefix: `100.64.9.${k}`, from: T0 });
    await waitFor('all 20 addresses', () => deliveries.at(-1)?.index.subscriberAt('100.64.9.19', T0.getTime()) === 'bob');
    await new Promise((resolve) => setTimeout(resolve, 400));
    const afterStart = deliveries.length - 1;
    expect(afterStart).toBeGreaterThanOrEqual(1);
    expect(afterStart).toBeLessThanOrEqual(3);
    expect(watcher.stats().notifications).toBeGreaterThan(afterStart);
  });

  it('reconnects its listener after the connection is killed and still hears changes', async () => {
    const { watcher, deliveries, log } = watch(db);
    await watcher.start();
    const { rows } = await db.pool.query(
      "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE datname = $1 AND application_name = 'flowbill-assignment-watcher'",
      [db.name],
    );
    expect(rows).toEqual([{ killed: true }]);
    await waitFor('the listener to come back', () => watcher.stats().listenerDisconnects === 1 && watcher.stats().listening);
    expect(log.some((line) => line.includes('reconnecting in'))).toBe(true);
    // Changes made while it was away are picked up by the reload that follows reconnection.
    await waitFor('the reload after reconnecting', () => deliveries.some((entry) => entry.reason === 'listening'));

    const inserted = performance.now();
    await assignPrefix(db.pool, { subscriberId: 'alice', prefix: '100.64.7.0/24', from: T0 });
    const delivery = await waitFor('an index after reconnection', () => deliveries.find((entry) => entry.index.subscriberAt('100.64.7.1', T0.getTime()) === 'alice'));
    expect(delivery.at - inserted).toBeLessThan(2_000);
  });
});

describe('AssignmentWatcher on a damaged table (own database)', () => {
  let own: TestDatabase;
  beforeAll(async () => {
    own = await createTestDatabase();
    for (const id of ['alice', 'bob']) await upsertSubscriber(own.pool, { id, name: id });
    await assignPrefix(own.pool, { subscriberId: 'alice', prefix: '100.64.0.7', from: T0 });
  });
  afterAll(async () => {
    await own?.drop();
  });

  it('keeps the index in use when the rows cannot be indexed or loaded, counts it, and recovers', async () => {
    const { watcher, deliveries } = watch(own);
    await watcher.start();
    const good = deliveries[0].index;

    // Rows the exclusion constraint would have refused: only possible without it.
    await own.pool.query('ALTER TABLE ip_assignments DROP CONSTRAINT ip_assignments_no_shared_address');
    await own.pool.query("INSERT INTO ip_assignments (subscriber_id, prefix, valid) VALUES ('bob', '100.64.0.7/32', '[2025-03-01 10:15Z,)')");
    await waitFor('a failed reload', () => watcher.stats().failedReloads === 1);
    expect(deliveries).toHaveLength(1);
    expect(watcher.stats().lastError).toMatch(/100\.64\.0\.7\/32 is assigned to "alice" .* and to "bob"/);

    // The table is unreadable (a migration gone wrong): the same.
    await own.pool.query("DELETE FROM ip_assignments WHERE subscriber_id = 'bob'");
    await waitFor('the repaired table', () => deliveries.length === 2);
    await own.pool.query('ALTER TABLE ip_assignments RENAME TO ip_assignments_moved');
    expect(await watcher.reload()).toBe(false);
    expect(watcher.stats()).toMatchObject({ failedReloads: 2, reloads: 2 });
    expect(watcher.stats().lastError).toMatch(/relation "ip_assignments" does not exist/);
    await own.pool.query('ALTER TABLE ip_assignments_moved RENAME TO ip_assignments');
    expect(await watcher.reload()).toBe(true);
    expect(deliveries.at(-1)?.index).not.toBe(good);
    expect(deliveries.at(-1)?.index.subscriberAt('100.64.0.7', T.getTime())).toBe('alice');
  });

  it('reloads periodically, so a change that was never announced still arrives', async () => {
    await own.pool.query('ALTER TABLE ip_assignments DISABLE TRIGGER ip_assignments_notify_changed');
    try {
      const { watcher, deliveries } = watch(own, { reloadIntervalMs: 300 });
      await watcher.start();
      await assignPrefix(own.pool, { subscriberId: 'bob', prefix: '100.64.5.5', from: T0 });
      const delivery = await waitFor('a periodic reload', () => deliveries.find((entry) => entry.index.subscriberAt('100.64.5.5', T0.getTime()) === 'bob'));
      expect(delivery.reason).toBe('periodic');
      expect(watcher.stats().notifications).toBe(0);
      // Later periodic reloads find the same rows: nothing is built or delivered again.
      const delivered = deliveries.length;
      await waitFor('unchanged periodic reloads', () => watcher.stats().unchangedReloads >= 2);
      expect(deliveries.length).toBe(delivered);
    } finally {
      await own.pool.query('ALTER TABLE ip_assignments ENABLE TRIGGER ip_assignments_notify_changed');
    }
  });
});

describe('AssignmentWatcher started before its database is there', () => {
  it('reports no index, keeps retrying with backoff, and delivers one once the database is there', async () => {
    const name = `flowbill_test_${randomBytes(6).toString('hex')}`;
    const url = new URL(testServerUrl());
    url.pathname = `/${name}`;
    const admin = new pg.Client({ connectionString: testServerUrl() });
    await admin.connect();
    const pool = createPool(url.toString());
    try {
      const deliveries: SubscriberIndex[] = [];
      const watcher = new AssignmentWatcher({
        pool,
        databaseUrl: url.toString(),
        reconnectMinDelayMs: 50,
        reconnectMaxDelayMs: 200,
        onIndex: (index) => deliveries.push(index),
      });
      watchers.push(watcher);
      expect(await watcher.start()).toBe(false);
      expect(watcher.stats()).toMatchObject({ failedReloads: 1, listening: false, reloads: 0 });
      expect(watcher.stats().lastError).toContain(`database "${name}" does not exist`);

      await admin.query(`CREATE DATABASE ${name}`);
      await waitFor('the listener to connect', () => watcher.stats().listening);
      await migratePostgres(pool);
      await upsertSubscriber(pool, { id: 'carol', name: 'Carol' });
      await assignPrefix(pool, { subscriberId: 'carol', prefix: '100.64.0.9', from: T0 });
      await waitFor('an index', () => deliveries.at(-1)?.subscriberAt('100.64.0.9', T0.getTime()) === 'carol');
      await watcher.stop();
    } finally {
      await pool.end();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });
});
