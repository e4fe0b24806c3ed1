import { createTestDatabase, type TestDatabase } from '@flowbill/shared/testing/postgres';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SubscriberIndex } from '../attribution/index.js';
import { createApiKey, hashApiKey, revokeApiKey } from './api-keys.js';
import { AssignmentConflictError, SubscriberDataError } from './errors.js';
import { assignPrefix, endAssignment, listAssignments, loadSubscriberAssignments, upsertSubscriber } from './repository.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await db.pool.query('TRUNCATE ip_assignments, subscribers, api_keys CASCADE');
  for (const id of ['alice', 'bob']) await upsertSubscriber(db.pool, { id, name: id.toUpperCase() });
});

const T0 = new Date('2025-03-01T10:00:00Z');
const T = new Date('2025-03-01T10:30:00Z');
const at = (base: Date, ms: number) => new Date(base.getTime() + ms);

/** Insert through plain SQL, to test the table's own rules without the repository in front. */
function insertRaw(subscriber: string, prefix: string, range: string) {
  return db.pool.query('INSERT INTO ip_assignments (subscriber_id, prefix, valid) VALUES ($1, $2, $3::tstzrange)', [subscriber, prefix, range]);
}

describe('ip_assignments constraints (the database itself)', () => {
  it('rejects another subscriber taking an IPv4 /32 inside a /24 at an overlapping time (23P01)', async () => {
    await insertRaw('alice', '100.64.0.0/24', '[2025-03-01 10:00Z,)');
    await expect(insertRaw('bob', '100.64.0.7/32', '[2025-03-05 00:00Z,2025-03-06 00:00Z)')).rejects.toMatchObject({
      code: '23P01',
      constraint: 'ip_assignments_no_shared_address',
    });
  });

  it('rejects another subscriber taking an IPv6 /64 inside a delegated /56', async () => {
    await insertRaw('alice', '2001:db8:1:100::/56', '[2025-03-01 10:00Z,)');
    await expect(insertRaw('bob', '2001:db8:1:1ff::/64', '[2025-03-02 00:00Z,)')).rejects.toMatchObject({ code: '23P01' });
    // Outside the /56 is fine.
    await expect(insertRaw('bob', '2001:db8:1:200::/64', '[2025-03-02 00:00Z,)')).resolves.toBeDefined();
  });

  it('accepts the same address held one after the other: [t0, T) then [T, open)', async () => {
    await insertRaw('alice', '100.64.0.7/32', '[2025-03-01 10:00Z,2025-03-01 10:30Z)');
    await expect(insertRaw('bob', '100.64.0.7/32', '[2025-03-01 10:30Z,)')).resolves.toBeDefined();
    // ...but not one millisecond earlier.
    await expect(insertRaw('bob', '100.64.0.0/24', '[2025-03-01 10:29:59.999Z,)')).rejects.toMatchObject({ code: '23P01' });
  });

  it('lets one subscriber hold a prefix and an address inside it (the rule is about two subscribers)', async () => {
    await insertRaw('alice', '2001:db8:1:100::/56', '[2025-03-01 10:00Z,)');
    await expect(insertRaw('alice', '2001:db8:1:100::/64', '[2025-03-01 10:00Z,)')).resolves.toBeDefined();
  });

  it('rejects intervals the collector cannot use: open start, inclusive end, empty, sub-millisecond', async () => {
    for (const range of ['(,2025-03-01 10:00Z)', '[2025-03-01 10:00Z,2025-03-02 00:00Z]', '[2025-03-01 10:00Z,2025-03-01 10:00Z)', '[2025-03-01 10:00:00.0001Z,)', '[2025-03-01 10:00Z,infinity)']) {
      await expect(insertRaw('alice', '100.64.0.7/32', range), range).rejects.toMatchObject({ code: '23514' });
    }
  });

  it('rejects subscriber ids the rest of the pipeline could not carry', async () => {
    await expect(db.pool.query("INSERT INTO subscribers (id, name) VALUES ('a\tb', 'x')")).rejects.toMatchObject({ code: '23514' });
    await expect(db.pool.query("INSERT INTO subscribers (id, name, status) VALUES ('ok-1', 'x', 'gone')")).rejects.toMatchObject({ code: '23514' });
  });
});

describe('upsertSubscriber', () => {
  it('creates with the default time zone, updates the name and keeps the zone when not given', async () => {
    const created = await upsertSubscriber(db.pool, { id: 'acc-1', name: 'First' });
    expect(created).toMatchObject({ created: true, subscriber: { id: 'acc-1', name: 'First', timeZone: 'Europe/Moscow', status: 'active' } });
    await upsertSubscriber(db.pool, { id: 'acc-1', name: 'First', timeZone: 'Asia/Yekaterinburg' });
    const updated = await upsertSubscriber(db.pool, { id: 'acc-1', name: 'Renamed' });
    expect(updated).toMatchObject({ created: false, subscriber: { name: 'Renamed', timeZone: 'Asia/Yekaterinburg' } });
    expect(updated.subscriber.updatedAt.getTime()).toBeGreaterThanOrEqual(created.subscriber.updatedAt.getTime());
  });

  it('rejects time zones PostgreSQL does not know and ids outside the charset', async () => {
    await expect(upsertSubscriber(db.pool, { id: 'acc-2', name: 'X', timeZone: 'Europe/Atlantis' })).rejects.toThrow(/unknown time zone "Europe\/Atlantis"/);
    await expect(upsertSubscriber(db.pool, { id: 'acc 2', name: 'X' })).rejects.toThrow(SubscriberDataError);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM subscribers WHERE id LIKE 'acc%2'")).rows[0].n).toBe(0);
  });
});

describe('assignPrefix / endAssignment / listAssignments', () => {
  it('refuses another subscriber without --reassign, naming both subscribers and the prefix', async () => {
    await assignPrefix(db.pool, { subscriberId: 'alice', prefix: '100.64.0.0/24', from: T0 });
    const attempt = assignPrefix(db.pool, { subscriberId: 'bob', prefix: '100.64.0.7', from: T });
    await expect(attempt).rejects.toThrow(AssignmentConflictError);
    await expect(attempt).rejects.toThrow(
      '100.64.0.7/32 for subscriber "bob" [2025-03-01T10:30:00.000Z, open) overlaps 100.64.0.0/24 held by subscriber "alice" [2025-03-01T10:00:00.000Z, open)',
    );
  });

  it('reassigns: closes the previous holder at T and opens the new one at T, in one transaction', async () => {
    await assignPrefix(db.pool, { subscriberId: 'alice', prefix: '100.64.0.7', from: T0 });
    const result = await assignPrefix(db.pool, { subscriberId: 'bob', prefix: '100.64.0.7/32', from: T, reassign: true });
    expect(result.closed).toMatchObject([{ subscriberId: 'alice', prefix: '100.64.0.7/32', validFrom: T0, validTo: T }]);
    expect(result.assignment).toMatchObject({ subscriberId: 'bob', prefix: '100.64.0.7/32', validFrom: T, validTo: null });
  });

  it('does not reassign from before the holder started: that is a conflict and changes nothing', async () => {
    await assignPrefix(db.pool, { subscriberId: 'alice', prefix: '100.64.0.7', from: T });
    await expect(assignPrefix(db.pool, { subscriberId: 'bob', prefix: '100.64.0.7', from: T0, reassign: true })).rejects.toThrow(/held by subscriber "alice"/);
    const rows = await listAssignments(db.pool, { from: T0, to: new Date('2030-01-01T00:00:00Z') });
    expect(rows).toMatchObject([{ subscriberId: 'alice', validFrom: T, validTo: null }]);
  });

  it('refuses to record the same prefix twice for the same subscriber at overlapping times', async () => {
    await assignPrefix(db.pool, { subscriberId: 'alice', prefix: '100.64.0.7', from: T0, to: T });
    await expect(assignPrefix(db.pool, { subscriberId: 'alice', prefix: '100.64.0.7/32', from: at(T, -1) })).rejects.toThrow(
      'subscriber "alice" would hold 100.64.0.7/32 [2025-03-01T10:29:59.999Z, open) but already holds 100.64.0.7/32 [2025-03-01T10:00:00.000Z, 2025-03-01T10:30:00.000Z)',
    );
    await expect(assignPrefix(db.pool, { subscriberId: 'alice', prefix: '100.64.0.7', from: T })).resolves.toBeDefined();
  });

  it('reports an unknown subscriber and a bad prefix as data errors', async () => {
    await expect(assignPrefix(db.pool, { subscriberId: 'nobody', prefix: '100.64.0.7', from: T0 })).rejects.toThrow(/unknown subscriber "nobody"/);
    await expect(assignPrefix(db.pool, { subscriberId: 'alice', prefix: '100.64.0.7/24', from: T0 })).rejects.toThrow(/host bits are set/);
  });

  it('ends an assignment at a time and refuses to end one where none is valid', async () => {
    await assignPrefix(db.pool, { subscriberId: 'alice', prefix: '2001:db8:1:100::/56', from: T0 });
    const ended = await endAssignment(db.pool, '2001:db8:1:100::/56', T);
    expect(ended).toMatchObject({ subscriberId: 'alice', validFrom: T0, validTo: T });
    await expect(endAssignment(db.pool, '2001:db8:1:100::/56', at(T, 1))).rejects.toThrow(/no assignment of exactly 2001:db8:1:100::\/56 is valid/);
    await expect(endAssignment(db.pool, '2001:db8:1:100::/56', T0)).rejects.toThrow(/starts at 2025-03-01T10:00:00.000Z/);
  });

  it('lists what is valid in a window, with canonical (RFC 5952) prefixes', async () => {
    await assignPrefix(db.pool, { subscriberId: 'alice', prefix: '2001:DB8:0:0:1:0:0:0/80', from: T0, to: T });
    await assignPrefix(db.pool, { subscriberId: 'bob', prefix: '100.64.0.9', from: T });
    expect((await listAssignments(db.pool, { from: at(T, -1), to: T })).map((row) => row.prefix)).toEqual(['2001:db8:0:0:1::/80']);
    expect((await listAssignments(db.pool, { from: T, to: at(T, 1) })).map((row) => [row.subscriberId, row.subscriberName])).toEqual([['bob', 'BOB']]);
  });
});

describe('an index built from PostgreSQL', () => {
  it('attributes an address reassigned mid-hour to the old subscriber before and the new one after', async () => {
    await assignPrefix(db.pool, { subscriberId: 'alice', prefix: '100.64.0.7', from: T0 });
    await assignPrefix(db.pool, { subscriberId: 'alice', prefix: '2001:db8:1:100::/56', from: T0 });
    await assignPrefix(db.pool, { subscriberId: 'bob', prefix: '100.64.0.7', from: T, reassign: true });
    await assignPrefix(db.pool, { subscriberId: 'bob', prefix: '2001:db8:1:100::/56', from: T, reassign: true });

    const index = SubscriberIndex.build(await loadSubscriberAssignments(db.pool));
    expect(index.assignmentCount).toBe(4);
    expect(index.subscriberAt('100.64.0.7', T0.getTime() - 1)).toBeUndefined();
    expect(index.subscriberAt('100.64.0.7', T0.getTime())).toBe('alice');
    expect(index.subscriberAt('100.64.0.7', T.getTime() - 1)).toBe('alice');
    expect(index.subscriberAt('100.64.0.7', T.getTime())).toBe('bob');
    expect(index.subscriberAt('2001:db8:1:1ab::42', T.getTime() - 1)).toBe('alice');
    expect(index.subscriberAt('2001:db8:1:1ab::42', T.getTime() + 60_000)).toBe('bob');
  });
});

describe('API keys', () => {
  it('stores only the sha256 of a new key, refuses a taken name, and revokes once', async () => {
    const { key } = await createApiKey(db.pool, 'billing');
    expect(key).toMatch(/^fbk_[A-Za-z0-9_-]{43}$/);
    const { rows } = await db.pool.query('SELECT key_hash, revoked_at FROM api_keys WHERE name = $1', ['billing']);
    expect(rows).toEqual([{ key_hash: hashApiKey(key), revoked_at: null }]);
    expect(JSON.stringify(rows)).not.toContain(key);

    await expect(createApiKey(db.pool, 'billing')).rejects.toThrow(/already exists/);
    expect((await revokeApiKey(db.pool, 'billing')).revokedAt).toBeInstanceOf(Date);
    await expect(revokeApiKey(db.pool, 'billing')).rejects.toThrow(/already revoked/);
    await expect(revokeApiKey(db.pool, 'nope')).rejects.toThrow(/no API key named "nope"/);
  });
});
