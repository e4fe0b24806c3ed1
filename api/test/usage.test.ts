import { insertUsageBatch, type UsageRow } from '@flowbill/shared/clickhouse/index';
import { beforeEach, describe, expect, it } from 'vitest';
import { withApiStack } from './support/api-stack.js';

const stack = withApiStack();
let key: string;

const at = (iso: string) => Date.parse(iso) / 1000;
const row = (minute: string, direction: 'download' | 'upload', trafficClass: string, bytes: bigint, packets: bigint, extra: Partial<UsageRow> = {}): UsageRow => ({
  minute: at(minute),
  subscriberId: 'sub-1',
  address: '192.0.2.10',
  direction,
  trafficClass,
  bytes,
  packets,
  flows: 1n,
  ...extra,
});

const zero = { bytes: '0', packets: '0' };

beforeEach(async () => {
  key = await stack.createApiKey();
  await stack.createSubscriber('sub-1');
  await stack.createSubscriber('sub-2');
  // Two batches, as two flushes would write them: the read path must sum across inserts.
  await insertUsageBatch(stack.clickhouse.ch, 'b1', [
    row('2026-02-28T23:59:00Z', 'download', 'internet', 9n, 1n),
    row('2026-03-01T10:00:00Z', 'download', 'internet', 1000n, 10n),
    row('2026-03-01T10:00:00Z', 'download', 'internet', 500n, 5n, { address: '2001:db8::10' }),
    row('2026-03-01T10:00:00Z', 'upload', 'internet', 200n, 4n),
    row('2026-03-01T10:01:00Z', 'download', 'local', 300n, 3n),
    row('2026-03-01T10:00:00Z', 'download', 'internet', 99_999n, 999n, { subscriberId: 'sub-2' }),
  ]);
  await insertUsageBatch(stack.clickhouse.ch, 'b2', [
    row('2026-03-01T10:59:00Z', 'download', 'internet', 7n, 1n),
    row('2026-03-01T11:00:00Z', 'upload', 'internet', 50n, 1n),
    row('2026-03-02T00:00:00Z', 'download', 'internet', 1n, 1n),
  ]);
});

async function getUsage(query: string, id = 'sub-1') {
  return stack.app.inject({ method: 'GET', url: `/v1/subscribers/${id}/usage?${query}`, headers: { authorization: `Bearer ${key}` } });
}

describe('GET /v1/subscribers/:id/usage', () => {
  it('step=1m: per-minute sums over addresses and batches, empty minutes zero-filled', async () => {
    const res = await getUsage('from=2026-03-01T10:00:00Z&to=2026-03-01T10:03:00Z&step=1m');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      subscriberId: 'sub-1',
      from: '2026-03-01T10:00:00Z',
      to: '2026-03-01T10:03:00Z',
      step: '1m',
      series: [
        {
          start: '2026-03-01T10:00:00Z',
          download: { internet: { bytes: '1500', packets: '15' }, local: zero },
          upload: { internet: { bytes: '200', packets: '4' }, local: zero },
        },
        {
          start: '2026-03-01T10:01:00Z',
          download: { internet: zero, local: { bytes: '300', packets: '3' } },
          upload: { internet: zero, local: zero },
        },
        { start: '2026-03-01T10:02:00Z', download: { internet: zero, local: zero }, upload: { internet: zero, local: zero } },
      ],
      totals: {
        download: { internet: { bytes: '1500', packets: '15' }, local: { bytes: '300', packets: '3' } },
        upload: { internet: { bytes: '200', packets: '4' }, local: zero },
        bytes: '2000',
        packets: '22',
      },
    });
  });

  it('step=1h: hourly rollup, to is exclusive; bounds may carry any offset', async () => {
    const utc = await getUsage('from=2026-03-01T10:00:00Z&to=2026-03-01T12:00:00Z&step=1h');
    // The same instants written at +03:00 (and URL-encoded, as a client must send "+").
    const offset = await getUsage('from=2026-03-01T13:00:00%2B03:00&to=2026-03-01T15:00:00%2B03:00&step=1h');
    expect(utc.statusCode).toBe(200);
    expect(offset.json()).toEqual(utc.json());
    const body = utc.json();
    expect(body.series).toEqual([
      {
        start: '2026-03-01T10:00:00Z',
        download: { internet: { bytes: '1507', packets: '16' }, local: { bytes: '300', packets: '3' } },
        upload: { internet: { bytes: '200', packets: '4' }, local: zero },
      },
      {
        start: '2026-03-01T11:00:00Z',
        download: { internet: zero, local: zero },
        upload: { internet: { bytes: '50', packets: '1' }, local: zero },
      },
    ]);
    expect(body.totals).toMatchObject({ bytes: '2057', packets: '24' });

    const firstHourOnly = await getUsage('from=2026-03-01T10:00:00Z&to=2026-03-01T11:00:00Z&step=1h');
    expect(firstHourOnly.json().totals).toMatchObject({ bytes: '2007', packets: '23' });
  });

  it('step=1d: UTC days, half-open range', async () => {
    const res = await getUsage('from=2026-02-28T00:00:00Z&to=2026-03-02T00:00:00Z&step=1d');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.series.map((b: { start: string }) => b.start)).toEqual(['2026-02-28T00:00:00Z', '2026-03-01T00:00:00Z']);
    expect(body.series[0].download.internet).toEqual({ bytes: '9', packets: '1' });
    expect(body.series[1]).toEqual({
      start: '2026-03-01T00:00:00Z',
      download: { internet: { bytes: '1507', packets: '16' }, local: { bytes: '300', packets: '3' } },
      upload: { internet: { bytes: '250', packets: '5' }, local: zero },
    });
    // 9 + 1507 + 300 + 250; the row at 2026-03-02T00:00 is outside [from, to).
    expect(body.totals).toEqual({
      download: { internet: { bytes: '1516', packets: '17' }, local: { bytes: '300', packets: '3' } },
      upload: { internet: { bytes: '250', packets: '5' }, local: zero },
      bytes: '2066',
      packets: '25',
    });
  });

  it('returns counters above 2^53 exactly, as decimal strings', async () => {
    const big = 1n << 62n;
    await insertUsageBatch(stack.clickhouse.ch, 'big', [
      row('2026-03-05T00:00:00Z', 'download', 'internet', big, 3n),
      row('2026-03-05T00:00:00Z', 'download', 'internet', big + 1n, 4n, { address: '192.0.2.11' }),
    ]);
    const res = await getUsage('from=2026-03-05T00:00:00Z&to=2026-03-06T00:00:00Z&step=1d');
    expect(res.statusCode).toBe(200);
    expect(res.json().series[0].download.internet).toEqual({ bytes: '9223372036854775809', packets: '7' });
    expect(res.json().totals.bytes).toBe('9223372036854775809');
  });

  it('answers an empty range of an existing subscriber with zero buckets and no classes', async () => {
    const res = await getUsage('from=2026-04-01T00:00:00Z&to=2026-04-01T03:00:00Z&step=1h', 'sub-2');
    expect(res.statusCode).toBe(200);
    expect(res.json().series).toEqual([
      { start: '2026-04-01T00:00:00Z', download: {}, upload: {} },
      { start: '2026-04-01T01:00:00Z', download: {}, upload: {} },
      { start: '2026-04-01T02:00:00Z', download: {}, upload: {} },
    ]);
    expect(res.json().totals).toEqual({ download: {}, upload: {}, bytes: '0', packets: '0' });
  });

  it('404 for a subscriber that is not in PostgreSQL, even when ClickHouse has rows for it', async () => {
    await insertUsageBatch(stack.clickhouse.ch, 'ghost', [row('2026-03-01T10:00:00Z', 'download', 'internet', 5n, 1n, { subscriberId: 'ghost' })]);
    const res = await getUsage('from=2026-03-01T10:00:00Z&to=2026-03-01T11:00:00Z&step=1h', 'ghost');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ statusCode: 404, error: 'Not Found', message: 'subscriber ghost does not exist' });
  });

  describe('validation: 400 naming the parameter', () => {
    const cases: Array<[string, string, string[], RegExp]> = [
      ['all parameters missing', '', ['from', 'to', 'step'], /from is required/],
      ['from without an offset', 'from=2026-03-01T10:00:00&to=2026-03-01T11:00:00Z&step=1h', ['from'], /from must be a valid ISO 8601 date-time with an offset/],
      ['a date only', 'from=2026-03-01&to=2026-03-02T00:00:00Z&step=1d', ['from'], /from must be a valid ISO 8601/],
      ['an impossible date', 'from=2026-02-30T00:00:00Z&to=2026-03-02T00:00:00Z&step=1d', ['from'], /from must be a valid ISO 8601/],
      ['an unknown step', 'from=2026-03-01T10:00:00Z&to=2026-03-01T11:00:00Z&step=5m', ['step'], /step must be one of 1m, 1h, 1d/],
      ['to equal to from', 'from=2026-03-01T10:00:00Z&to=2026-03-01T10:00:00Z&step=1m', ['to'], /to must be later than from/],
      ['to before from', 'from=2026-03-01T11:00:00Z&to=2026-03-01T10:00:00Z&step=1h', ['to'], /to must be later than from/],
      ['1m over more than 2 days', 'from=2026-03-01T00:00:00Z&to=2026-03-03T00:01:00Z&step=1m', ['to'], /at most 2 days with step=1m/],
      ['1h over more than 93 days', 'from=2026-01-01T00:00:00Z&to=2026-04-04T01:00:00Z&step=1h', ['to'], /at most 93 days with step=1h/],
      ['1d over more than 3 years', 'from=2020-01-01T00:00:00Z&to=2023-01-02T00:00:00Z&step=1d', ['to'], /at most 1096 days \(3 years\) with step=1d/],
      ['from inside an hour', 'from=2026-03-01T10:30:00Z&to=2026-03-01T12:00:00Z&step=1h', ['from'], /from must be a whole hour \(UTC\) for step=1h/],
      ['local midnight is not a UTC day', 'from=2026-03-01T00:00:00%2B03:00&to=2026-03-02T00:00:00Z&step=1d', ['from'], /from must be midnight UTC for step=1d/],
      ['seconds in a 1m bound', 'from=2026-03-01T10:00:00Z&to=2026-03-01T10:05:30Z&step=1m', ['to'], /to must be a whole minute/],
      ['from given twice', 'from=2026-03-01T10:00:00Z&from=2026-03-01T11:00:00Z&to=2026-03-01T12:00:00Z&step=1h', ['from'], /from must be a valid ISO 8601/],
      ['before ClickHouse time', 'from=1969-12-31T00:00:00Z&to=1970-01-02T00:00:00Z&step=1d', ['from'], /from must not be before 1970/],
    ];
    it.each(cases)('%s', async (_name, query, parameters, message) => {
      const res = await getUsage(query);
      expect(res.statusCode).toBe(400);
      const body = res.json();
      expect(body.error).toBe('Bad Request');
      expect(body.message).toMatch(message);
      expect(body.issues.map((i: { parameter: string }) => i.parameter)).toEqual(parameters);
      expect(body.issues.every((i: { in: string }) => i.in === 'query')).toBe(true);
    });

    it('lists every problem in one message, each naming its parameter once', async () => {
      const res = await getUsage('to=2026-03-01T10:00:00Z&step=1w');
      expect(res.json().message).toBe('from is required (start of the range, inclusive); step must be one of 1m, 1h, 1d');
    });

    it('a subscriber id outside the allowed charset is a path parameter error', async () => {
      const res = await getUsage('from=2026-03-01T10:00:00Z&to=2026-03-01T11:00:00Z&step=1h', 'bad%20id');
      expect(res.statusCode).toBe(400);
      expect(res.json().issues).toEqual([{ parameter: 'id', in: 'path', message: expect.stringMatching(/^id must be 1-64 letters/) }]);
    });
  });
});
