import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '@flowbill/shared/testing/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from './api-keys.js';
import { runSubscribersCli } from './command.js';

let db: TestDatabase;
const dir = mkdtempSync(join(tmpdir(), 'flowbill-subscribers-cli-'));
beforeAll(async () => {
  // Not migrated: the CLI migrates the database it is pointed at.
  db = await createTestDatabase({ migrate: false });
});
afterAll(async () => {
  await db?.drop();
});

async function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  let out = '';
  let err = '';
  const code = await runSubscribersCli(args, {
    out: (text) => (out += text),
    err: (text) => (err += text),
    env: { DATABASE_URL: db.url, ...env },
    now: () => new Date('2025-03-01T12:00:00Z'),
  });
  return { code, out, err };
}

describe('subscribers CLI (in-process)', () => {
  it('add, assign, reassign, list, unassign', async () => {
    expect(await run(['add', '10001', '--name', 'Ivan Petrov'])).toMatchObject({ code: 0, out: 'subscriber 10001 created (name "Ivan Petrov", time zone Europe/Moscow)\n' });
    expect((await run(['add', '10002', '--name', 'Romashka, LLC', '--time-zone', 'Asia/Yekaterinburg'])).code).toBe(0);

    const assigned = await run(['assign', '10001', '100.64.0.7', '--from', '2025-03-01T10:00:00+03:00']);
    expect(assigned).toMatchObject({ code: 0, out: expect.stringMatching(/^assigned 100\.64\.0\.7\/32 of "10001" \[2025-03-01T07:00:00\.000Z, open\) \(assignment \d+\)\n$/) });

    const refused = await run(['assign', '10002', '100.64.0.7', '--from', '2025-03-01T10:30:00Z']);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('100.64.0.7/32 for subscriber "10002" [2025-03-01T10:30:00.000Z, open) overlaps 100.64.0.7/32 held by subscriber "10001"');
    expect(refused.err).toContain('--reassign');

    const reassigned = await run(['assign', '10002', '100.64.0.7', '--from', '2025-03-01T10:30:00Z', '--reassign']);
    expect(reassigned.code).toBe(0);
    expect(reassigned.out).toMatch(/^ended 100\.64\.0\.7\/32 of "10001" \[2025-03-01T07:00:00\.000Z, 2025-03-01T10:30:00\.000Z\)\nassigned 100\.64\.0\.7\/32 of "10002"/);

    // Default --from is "now" (12:00 here).
    expect((await run(['assign', '10001', '2001:db8:1:100::/56'])).out).toContain('[2025-03-01T12:00:00.000Z, open)');

    expect((await run(['list', '--at', '2025-03-01T10:29:59.999Z'])).out).toBe(
      'subscriber_id,name,prefix,valid_from,valid_to,time_zone\n10001,Ivan Petrov,100.64.0.7/32,2025-03-01T07:00:00.000Z,2025-03-01T10:30:00.000Z,Europe/Moscow\n',
    );
    expect((await run(['list'])).out).toBe(
      'subscriber_id,name,prefix,valid_from,valid_to,time_zone\n' +
        '10002,"Romashka, LLC",100.64.0.7/32,2025-03-01T10:30:00.000Z,,Asia/Yekaterinburg\n' +
        '10001,Ivan Petrov,2001:db8:1:100::/56,2025-03-01T12:00:00.000Z,,Europe/Moscow\n',
    );

    expect((await run(['unassign', '100.64.0.7', '--at', '2025-04-01T00:00:00+03:00'])).out).toMatch(
      /^ended 100\.64\.0\.7\/32 of "10002" \[2025-03-01T10:30:00\.000Z, 2025-03-31T21:00:00\.000Z\)/,
    );
    expect(await run(['unassign', '100.64.0.7', '--at', '2025-05-01T00:00:00Z'])).toMatchObject({ code: 1, err: expect.stringContaining('no assignment of exactly 100.64.0.7/32') });
  });

  it('imports a CSV file, and lists every problem of a bad one with exit code 1', async () => {
    const good = join(dir, 'good.csv');
    writeFileSync(good, 'subscriber_id,name,prefix,valid_from,valid_to,time_zone\n20001,Anna,100.65.0.0/30,2025-01-01T00:00:00Z,,Asia/Omsk\n20002,Boris,100.65.0.4,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,\n');
    expect(await run(['import', good])).toMatchObject({ code: 0, out: `imported 2 assignments from ${good}; subscribers: 2 created, 0 updated, 0 unchanged\n` });

    // Values are checked first; overlaps only once every line is valid.
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'subscriber_id,name,prefix,valid_from\n20003,Carl,100.65.0.1,2025-01-01T00:00:00Z\n20004,Dora,not-an-ip,2025-01-01T00:00:00Z\n20005,Eve,10.0.0.0/33,2025-01-01T00:00:00Z\n');
    const invalid = await run(['import', bad]);
    expect(invalid.code).toBe(1);
    expect(invalid.err).toBe(
      `subscribers: ${bad}: 2 problems, nothing imported:\n` +
        '  line 3: prefix: invalid IPv4 address "not-an-ip": expected four dot-separated decimal octets 0-255 without leading zeros\n' +
        '  line 4: prefix: invalid prefix "10.0.0.0/33": length must be a decimal 0..32, got "33"\n',
    );
    writeFileSync(bad, 'subscriber_id,name,prefix,valid_from\n20003,Carl,100.65.0.1,2025-01-01T00:00:00Z\n20004,Dora,100.66.0.1,2025-01-01T00:00:00Z\n');
    const overlapping = await run(['import', bad]);
    expect(overlapping.code).toBe(1);
    expect(overlapping.err).toContain(`${bad}: 1 problem, nothing imported:\n  line 2: 100.65.0.1/32 for subscriber "20003"`);
    expect(overlapping.err).toContain('held by subscriber "20001"');
    expect((await db.pool.query("SELECT count(*)::int AS n FROM subscribers WHERE id IN ('20003', '20004')")).rows[0].n).toBe(0);
    expect((await run(['import', join(dir, 'missing.csv')])).code).toBe(1);
  });

  it('creates an API key shown once and stored as sha256, and revokes it', async () => {
    const created = await run(['api-key', 'create', 'billing-export']);
    expect(created.code).toBe(0);
    const key = created.out.trim();
    expect(key).toMatch(/^fbk_/);
    const { rows } = await db.pool.query('SELECT key_hash FROM api_keys WHERE name = $1', ['billing-export']);
    expect(rows).toEqual([{ key_hash: hashApiKey(key) }]);
    expect(await run(['api-key', 'revoke', 'billing-export'])).toMatchObject({ code: 0, out: expect.stringContaining('API key "billing-export" revoked at') });
    expect((await run(['api-key', 'revoke', 'billing-export'])).code).toBe(1);
  });

  it('exit code 2 for usage errors, 1 for data and connection errors', async () => {
    expect((await run(['frobnicate'])).code).toBe(2);
    expect((await run(['assign', '10001'])).code).toBe(2);
    expect((await run(['assign', '10001', '100.64.0.1/24'])).err).toContain('host bits are set');
    expect((await run(['assign', '10001', '100.64.0.1/24'])).code).toBe(2);
    expect((await run(['assign', 'bad id', '100.64.0.1'])).code).toBe(2);
    expect((await run(['unassign', '100.64.0.1'])).code).toBe(2);
    expect((await run(['list', '--at', '2025-03-01'])).code).toBe(2);
    expect((await run(['assign', '10001', '100.64.3.3', '--from', '2025-03-02T00:00:00Z', '--to', '2025-03-01T00:00:00Z'])).code).toBe(2);
    expect((await run(['--help'])).code).toBe(0);
    expect((await run(['add', 'nobody-tz', '--name', 'X', '--time-zone', 'Nowhere/City'])).code).toBe(1);

    const unreachable = await run(['list', '--database-url', 'postgres://postgres:secret@127.0.0.1:1/flowbill']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.err).toContain('cannot use the database at postgres://postgres:***@127.0.0.1:1/flowbill');
    expect(unreachable.err).not.toContain('secret');
  });
});

describe('subscribers CLI (subprocess through tsx)', () => {
  it('runs as the documented command and exits with its codes', async () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const tsx = join(root, 'node_modules', '.bin', 'tsx');
    const cli = join(root, 'collector', 'src', 'subscribers', 'cli.ts');
    const env = { ...process.env, DATABASE_URL: db.url };
    const { stdout } = await promisify(execFile)(tsx, [cli, 'add', '30001', '--name', 'Subprocess'], { env, cwd: root });
    expect(stdout).toBe('subscriber 30001 created (name "Subprocess", time zone Europe/Moscow)\n');
    const failed = await promisify(execFile)(tsx, [cli, 'assign', '30001', '10.0.0.1/8'], { env, cwd: root }).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toContain('host bits are set');
  }, 60_000);
});
