/**
 * Test helpers shared by the redis and flusher tests: deterministic entries and a dump of
 * every key under a prefix (to assert "nothing changed" exactly).
 */
import type { Redis } from 'ioredis';
import type { UsageEntry } from '../aggregation/index.js';

export const TEST_MINUTE = Date.parse('2025-03-01T10:00:00Z') / 1000;

export function entry(overrides: Partial<UsageEntry> = {}): UsageEntry {
  return {
    exporter: '192.0.2.1',
    subscriberId: 'alice',
    address: '100.64.0.7',
    minute: TEST_MINUTE,
    direction: 'download',
    trafficClass: 'internet',
    bytes: 1000n,
    packets: 10n,
    flows: 1n,
    ...overrides,
  };
}

/** Every key under `prefix` with its type, TTL presence and full contents, sorted. */
export async function dumpPrefix(redis: Redis, prefix: string): Promise<Record<string, unknown>> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  const dump: Record<string, unknown> = {};
  for (const key of [...new Set(keys)].sort()) {
    const type = await redis.type(key);
    if (type === 'hash') dump[key] = sortObject(await redis.hgetall(key));
    else if (type === 'zset') dump[key] = await redis.zrange(key, 0, -1, 'WITHSCORES');
    else if (type === 'string') dump[key] = await redis.get(key);
    else dump[key] = type;
  }
  return dump;
}

function sortObject(object: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Lines the push script never writes; parseUsageLine and the flusher's reader must both refuse each. */
export const MALFORMED_LINES: readonly string[] = [
  '',
  'garbage',
  'a\tb\tsideways\tc\t1\t2\t3',
  'a\tb\tDownload\tc\t1\t2\t3',
  'a\tb\tuploads\tc\t1\t2\t3',
  'a\tb\tupload\tc\t1\t2',
  'a\tb\tupload\tc\t1\t2\t3\t4',
  'a\tb\tupload\tc\t1\t2\t',
  'a\tb\tupload\tc\t\t2\t3',
  'a\tb\tupload\tc\t-1\t2\t3',
  'a\tb\tupload\tc\t1.5\t2\t3',
  'a\tb\tupload\tc\t1\t2\t3 ',
  'a\tb\tupload\tc\t1\t0x2\t3',
  'a\tb\tupload\tc\t1\t2\t3\r',
  'a\tb\tupload\tc\t1\t2\t12345678901234567890x',
];

/** Sum of entries' counters. */
export function sumEntries(entries: readonly UsageEntry[]): { bytes: bigint; packets: bigint; flows: bigint } {
  const total = { bytes: 0n, packets: 0n, flows: 0n };
  for (const e of entries) {
    total.bytes += e.bytes;
    total.packets += e.packets;
    total.flows += e.flows;
  }
  return total;
}

/**
 * The lines of a minute string (open or claimed), without their newlines; [] for a missing
 * key. Throws if the string does not end with a newline (a push always writes whole lines).
 */
export async function minuteLines(redis: Redis, key: string): Promise<string[]> {
  const text = (await redis.get(key)) ?? '';
  if (text === '') return [];
  if (!text.endsWith('\n')) throw new Error(`${key} does not end with a newline: ${JSON.stringify(text.slice(-80))}`);
  return text.slice(0, -1).split('\n');
}

/** Sum of the counters of every line in the open minute strings (deliberately not the flusher's parser). */
export async function sumOpenMinutes(redis: Redis, minuteKeys: readonly string[]): Promise<{ bytes: bigint; packets: bigint; flows: bigint }> {
  const total = { bytes: 0n, packets: 0n, flows: 0n };
  for (const key of minuteKeys) {
    for (const line of await minuteLines(redis, key)) {
      const parts = line.split('\t');
      if (parts.length !== 7) throw new Error(`${key}: not a usage line: ${JSON.stringify(line)}`);
      total.bytes += BigInt(parts[4]);
      total.packets += BigInt(parts[5]);
      total.flows += BigInt(parts[6]);
    }
  }
  return total;
}

/** Poll `check` until it returns true (or throw after `timeoutMs`). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
