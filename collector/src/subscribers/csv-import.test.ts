import { createTestDatabase, type TestDatabase } from '@flowbill/shared/testing/postgres';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SubscriberIndex } from '../attribution/index.js';
import { importAssignmentsCsv } from './csv-import.js';
import { CsvImportError } from './errors.js';
import { listAssignments, loadSubscriberAssignments, upsertSubscriber } from './repository.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await db.pool.query('TRUNCATE ip_assignments, subscribers CASCADE');
});

async function count(table: string): Promise<number> {
  return (await db.pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n;
}

async function importError(csv: string): Promise<CsvImportError> {
  const error = await importAssignmentsCsv(db.pool, csv, { source: 'test.csv' }).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(CsvImportError);
  return error as CsvImportError;
}

describe('importAssignmentsCsv', () => {
  it('imports subscribers and their IPv4 and IPv6 assignments', async () => {
    await upsertSubscriber(db.pool, { id: '10002', name: 'Old name', timeZone: 'Asia/Yekaterinburg' });
    const csv = [
      'subscriber_id,name,prefix,valid_from,valid_to,time_zone',
      '10001,Ivan Petrov,100.64.0.7,2025-03-01T00:00:00+03:00,,Europe/Moscow',
      '10001,Ivan Petrov,2001:db8:1:100::/56,2025-03-01T00:00:00+03:00,,',
      '10002,"Romashka, LLC",100.64.1.0/28,2025-01-01T00:00:00Z,2025-03-01T00:00:00Z,',
      '10003,Anna,100.64.0.8,2025-03-01T10:00:00Z,,Asia/Vladivostok',
      '',
    ].join('\r\n');
    const result = await importAssignmentsCsv(db.pool, csv, { source: 'good.csv' });
    expect(result).toEqual({ assignments: 4, subscribersCreated: 2, subscribersUpdated: 1, subscribersUnchanged: 0 });

    const subscribers = (await db.pool.query('SELECT id, name, time_zone FROM subscribers ORDER BY id')).rows;
    expect(subscribers).toEqual([
      { id: '10001', name: 'Ivan Petrov', time_zone: 'Europe/Moscow' },
      // No time zone in the file: the existing one stays.
      { id: '10002', name: 'Romashka, LLC', time_zone: 'Asia/Yekaterinburg' },
      { id: '10003', name: 'Anna', time_zone: 'Asia/Vladivostok' },
    ]);
    const listed = await listAssignments(db.pool, { from: new Date('2025-01-01T00:00:00Z'), to: new Date('2026-01-01T00:00:00Z') });
    expect(listed.map((row) => [row.subscriberId, row.prefix, row.validFrom.toISOString(), row.validTo?.toISOString() ?? null, row.note])).toEqual([
      ['10001', '100.64.0.7/32', '2025-02-28T21:00:00.000Z', null, 'good.csv line 2'],
      ['10003', '100.64.0.8/32', '2025-03-01T10:00:00.000Z', null, 'good.csv line 5'],
      ['10002', '100.64.1.0/28', '2025-01-01T00:00:00.000Z', '2025-03-01T00:00:00.000Z', 'good.csv line 4'],
      ['10001', '2001:db8:1:100::/56', '2025-02-28T21:00:00.000Z', null, 'good.csv line 3'],
    ]);
  });

  // Speed is measured by bench/, not asserted here (a loaded CI machine would make it flaky).
  it('imports 50,000 rows in one go', async () => {
    const lines = ['subscriber_id,name,prefix,valid_from,valid_to,time_zone'];
    for (let k = 0; k < 50_000; k++) {
      // 25,000 IPv4 /32s and 25,000 IPv6 /64s, distinct, some closed, some with a later holder.
      const id = `acc-${k}`;
      const prefix = k % 2 === 0 ? `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}` : `2001:db8:${(k >> 16).toString(16)}:${(k & 0xffff).toString(16)}::/64`;
      const to = k % 5 === 0 ? '2025-06-01T00:00:00Z' : '';
      lines.push(`${id},Subscriber ${k},${prefix},2025-01-01T00:00:00Z,${to},${k % 7 === 0 ? 'Asia/Omsk' : ''}`);
    }
    const result = await importAssignmentsCsv(db.pool, lines.join('\n'));
    expect(result.assignments).toBe(50_000);
    expect(result.subscribersCreated).toBe(50_000);
    expect(await count('ip_assignments')).toBe(50_000);

    const index = SubscriberIndex.build(await loadSubscriberAssignments(db.pool));
    expect(index.subscriberAt('10.0.195.78', Date.parse('2025-07-01T00:00:00Z'))).toBe('acc-49998');
    expect(index.subscriberAt('10.0.195.80', Date.parse('2025-07-01T00:00:00Z'))).toBeUndefined(); // row 49,900: closed in June
    expect(index.subscriberAt('2001:db8:0:3::1', Date.parse('2025-02-01T00:00:00Z'))).toBe('acc-3');
  }, 60_000);

  it('lists every bad line with its number and imports nothing', async () => {
    const csv = [
      'subscriber_id,name,prefix,valid_from,valid_to,time_zone',
      'ok-1,Good,100.64.0.1,2025-03-01T00:00:00Z,,',
      'bad id,Name,100.64.0.2,2025-03-01T00:00:00Z,,',
      'ok-3,Name,100.64.0.1/24,2025-03-01T00:00:00Z,,',
      'ok-4,Name,100.64.0.4,2025-03-01 00:00,,',
      'ok-5,Name,100.64.0.5,2025-03-01T00:00:00Z,2025-02-01T00:00:00Z,',
      'ok-6,Name,100.64.0.6,2025-03-01T00:00:00Z,,Mars/Olympus',
      'ok-7,Name,100.64.0.7',
      'ok-1,Other name,100.64.0.8,2025-03-01T00:00:00Z,,',
      'ok-9,,999.1.1.1,2025-02-30T00:00:00Z,,',
    ].join('\n');
    const error = await importError(csv);
    expect(error.problems.map((problem) => problem.line)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 10, 10]);
    const text = error.message;
    expect(text).toMatch(/^test\.csv: 10 problems, nothing imported:/);
    expect(text).toContain('line 3: subscriber_id: subscriber id must be 1-64 characters');
    expect(text).toContain('line 4: prefix: invalid prefix "100.64.0.1/24": host bits are set');
    expect(text).toContain('line 5: valid_from: invalid time "2025-03-01 00:00": add a UTC offset');
    expect(text).toContain('line 6: valid_to: must be after valid_from (2025-03-01T00:00:00.000Z)');
    expect(text).toContain('line 7: time_zone: unknown time zone "Mars/Olympus"');
    expect(text).toContain('line 8: expected 6 fields (as in the header), found 3');
    expect(text).toContain('line 9: name: subscriber "ok-1" is named "Other name" here but "Good" on line 2');
    expect(text).toContain('line 10: name: name must not be empty');
    expect(text).toContain('line 10: valid_from: invalid time "2025-02-30T00:00:00Z": no such date or time');
    expect(await count('subscribers')).toBe(0);
    expect(await count('ip_assignments')).toBe(0);
  });

  it('reports overlaps inside the file and with stored assignments, naming both subscribers, and imports nothing', async () => {
    await importAssignmentsCsv(db.pool, 'subscriber_id,name,prefix,valid_from\nold,Old,100.64.0.0/24,2025-01-01T00:00:00Z\n');
    const csv = [
      'subscriber_id,name,prefix,valid_from,valid_to',
      'new-1,New,100.64.0.7,2025-03-01T00:00:00Z,',
      'new-2,Other,2001:db8:1:100::/56,2025-03-01T00:00:00Z,',
      'new-3,Third,2001:db8:1:1ff::/64,2025-04-01T00:00:00Z,2025-05-01T00:00:00Z',
      'new-4,Fine,100.64.1.7,2025-03-01T00:00:00Z,',
    ].join('\n');
    const error = await importError(csv);
    expect(error.problems).toEqual([
      {
        line: 2,
        message: expect.stringMatching(
          /^100\.64\.0\.7\/32 for subscriber "new-1" \[2025-03-01T00:00:00\.000Z, open\) overlaps 100\.64\.0\.0\/24 held by subscriber "old" \[2025-01-01T00:00:00\.000Z, open\): two subscribers cannot hold the same address at the same time \(assignment \d+ already in the database\)$/,
        ),
      },
      {
        line: 4,
        message:
          '2001:db8:1:1ff::/64 for subscriber "new-3" [2025-04-01T00:00:00.000Z, 2025-05-01T00:00:00.000Z) overlaps 2001:db8:1:100::/56 held by ' +
          'subscriber "new-2" [2025-03-01T00:00:00.000Z, open): two subscribers cannot hold the same address at the same time (line 3 of this file)',
      },
    ]);
    expect(await count('subscribers')).toBe(1);
    expect(await count('ip_assignments')).toBe(1);
  });

  it('refuses the same file twice (duplicate assignments) instead of doubling rows', async () => {
    const csv = 'subscriber_id,name,prefix,valid_from\nacc,Name,100.64.0.7,2025-03-01T00:00:00Z\n';
    await importAssignmentsCsv(db.pool, csv);
    const error = await importError(csv);
    expect(error.problems).toEqual([{ line: 2, message: expect.stringContaining('subscriber "acc" would hold 100.64.0.7/32 [2025-03-01T00:00:00.000Z, open) but already holds') }]);
    expect(await count('ip_assignments')).toBe(1);
  });

  it('rejects a bad header and broken quoting with the line', async () => {
    expect((await importError('subscriber,name,prefix\nx,y,z\n')).message).toContain('line 1: bad header: unknown column "subscriber"; missing columns subscriber_id, valid_from');
    expect((await importError('subscriber_id;name;prefix;valid_from\n')).message).toContain('semicolon-separated');
    expect((await importError('subscriber_id,name,prefix,valid_from\na,"broken,10.0.0.1,2025-03-01T00:00:00Z\n')).problems[0]).toMatchObject({ line: 2, message: expect.stringMatching(/^not valid CSV/) });
  });
});
