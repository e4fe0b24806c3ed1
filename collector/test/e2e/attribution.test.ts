/**
 * Attribution through the whole pipeline (collector and flusher processes, Redis,
 * ClickHouse, the API), with hand-made NetFlow v9 records whose owners are known:
 *
 * - an IPv4 address reassigned mid-hour: flows starting before the moment are billed to
 *   the old holder, from the moment on to the new one (half-open: a flow starting exactly
 *   at the moment is the new holder's; a flow is attributed at its start time);
 * - an IPv4 /30, IPv6 /64, /56 and /128 holders, with addresses just outside each
 *   prefix left unattributed (and counted in the collector's metrics);
 * - a `local` class from COLLECTOR_CLASSES (decided by the remote address) billed as its
 *   own class;
 * - overlapping assignments are rejected by the repository and change nothing;
 * - an assignment added while the collector runs reaches it within seconds through
 *   LISTEN/NOTIFY (the periodic reload is set to an hour, so nothing else can explain it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AssignmentConflictError } from '../../src/subscribers/errors.js';
import { assignPrefix, listAssignments } from '../../src/subscribers/repository.js';
import { bindSender, sendAll, V9Exporter, type FlowSpec } from './support/replay.js';
import { type CollectorProcess, LONG_AGO, Pipeline, useE2eServers } from './support/stack.js';
import { sleep, waitFor } from './support/wait.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** A whole hour two to three hours ago: every minute of it is closed. */
const H = Math.floor((Date.now() - 2 * HOUR) / HOUR) * HOUR;
/** The reassignment moment: mid-hour and mid-minute. */
const T1 = H + 30 * MINUTE + 17_500;
const HOUR_RANGE = { fromMs: H, toMs: H + HOUR };

const INTERNET_V4 = '198.51.100.7';
const LOCAL_V4 = '198.18.0.9';
const LOCAL_V4_EDGE = '198.19.255.1';
const INTERNET_V6 = '2001:db8:ffff::1';
const LOCAL_V6 = '2001:db8:cafe::1';
const CLASSES = 'local=198.18.0.0/15,2001:db8:cafe::/48';

const HENRY_ADDRESS = '100.67.3.3';

const servers = useE2eServers();
let pipeline: Pipeline;
let collector: CollectorProcess;
const exporter = new V9Exporter(H - HOUR);
let socket: Awaited<ReturnType<typeof bindSender>>;

beforeAll(async () => {
  pipeline = await Pipeline.create(servers(), [
    { id: 'alice', assignments: [{ prefix: '100.67.1.1/32' }] },
    // bob takes alice's address at T1; `reassign` ends alice's assignment there.
    { id: 'bob', assignments: [{ prefix: '100.67.1.1/32', from: new Date(T1), reassign: true }] },
    { id: 'carol', assignments: [{ prefix: '100.67.2.0/30' }] },
    { id: 'dave', assignments: [{ prefix: '2001:db8:67:1::/64' }] },
    { id: 'erin', assignments: [{ prefix: '2001:db8:67:100::/56' }] },
    { id: 'frank', assignments: [{ prefix: '2001:db8:67:2::7/128' }] },
    { id: 'grace' },
    { id: 'henry' },
  ]);
  [collector] = await Promise.all([
    pipeline.startCollector({ id: 'attribution', classes: CLASSES, env: { COLLECTOR_ASSIGNMENT_RELOAD_SECONDS: '3600' } }),
    pipeline.startFlusher('attribution-flusher'),
  ]);
  socket = await bindSender();
});
afterAll(async () => {
  socket?.close();
  await pipeline?.close();
});

function flow(src: string, dst: string, bytes: number, startMs: number, durationMs = 1_000): FlowSpec {
  return { src, dst, bytes: BigInt(bytes), packets: BigInt(Math.ceil(bytes / 500)), startMs, endMs: startMs + durationMs };
}

const packetsOf = (bytes: number) => BigInt(Math.ceil(bytes / 500));
const usage = (bytes: number) => ({ bytes: BigInt(bytes), packets: packetsOf(bytes) });
const none = { bytes: 0n, packets: 0n };

/** Flows of hour H. Unattributable ones (an address just outside a holder's prefix) are marked. */
const FLOWS = {
  alice: [
    flow(INTERNET_V4, '100.67.1.1', 10_000, T1 - 20 * MINUTE),
    flow('100.67.1.1', INTERNET_V4, 2_000, T1 - MINUTE),
    // Starts 1 ms before the moment and runs past it: the start decides (alice).
    flow(INTERNET_V4, '100.67.1.1', 3_000, T1 - 1, 30_000),
  ],
  bob: [
    // Starts exactly at the moment: bob's (the old assignment's end is exclusive).
    flow(INTERNET_V4, '100.67.1.1', 5_000, T1, 10_000),
    flow('100.67.1.1', INTERNET_V4, 7_000, T1 + 10 * MINUTE),
  ],
  carol: [
    flow(INTERNET_V4, '100.67.2.1', 11_000, H + 5 * MINUTE),
    flow('100.67.2.2', LOCAL_V4, 4_400, H + 6 * MINUTE),
    flow(LOCAL_V4_EDGE, '100.67.2.3', 1_234, H + 7 * MINUTE),
  ],
  dave: [flow(INTERNET_V6, '2001:db8:67:1::5', 20_000, H + 8 * MINUTE), flow('2001:db8:67:1:ffff:ffff:ffff:ffff', LOCAL_V6, 1_000, H + 9 * MINUTE)],
  erin: [flow(INTERNET_V6, '2001:db8:67:1ff::1', 30_000, H + 10 * MINUTE), flow('2001:db8:67:100::1', INTERNET_V6, 300, H + 11 * MINUTE)],
  frank: [flow(INTERNET_V6, '2001:db8:67:2::7', 40_000, H + 12 * MINUTE)],
  unattributed: [
    flow(INTERNET_V4, '100.67.2.4', 999, H + 13 * MINUTE), // next to carol's /30
    flow(INTERNET_V6, '2001:db8:67:200::1', 777, H + 14 * MINUTE), // next to erin's /56
    flow(INTERNET_V6, '2001:db8:67:2::8', 888, H + 15 * MINUTE), // next to frank's /128
  ],
};

const EXPECTED_HOUR: Record<string, { download: { bytes: bigint; packets: bigint }; upload: { bytes: bigint; packets: bigint } }> = {
  alice: { download: { bytes: 13_000n, packets: packetsOf(10_000) + packetsOf(3_000) }, upload: usage(2_000) },
  bob: { download: usage(5_000), upload: usage(7_000) },
  carol: { download: { bytes: 12_234n, packets: packetsOf(11_000) + packetsOf(1_234) }, upload: usage(4_400) },
  dave: { download: usage(20_000), upload: usage(1_000) },
  erin: { download: usage(30_000), upload: usage(300) },
  frank: { download: usage(40_000), upload: none },
  grace: { download: none, upload: none },
};

describe('attribution through the pipeline', () => {
  it('rejects overlapping assignments and changes nothing', async () => {
    const before = await listAssignments(pipeline.db.pool, { from: LONG_AGO, to: new Date('2100-01-01T00:00:00Z') });
    const attempts = [
      { subscriberId: 'grace', prefix: '100.67.2.2/32', from: LONG_AGO }, // inside carol's /30
      { subscriberId: 'grace', prefix: '100.67.2.0/29', from: new Date() }, // covers carol's /30, from now on
      { subscriberId: 'grace', prefix: '2001:db8:67:180::/57', from: LONG_AGO }, // inside erin's /56
      { subscriberId: 'grace', prefix: '100.67.1.1/32', from: new Date(T1 - MINUTE), to: new Date(T1 + MINUTE) }, // alice's, then bob's
    ];
    for (const attempt of attempts) {
      await expect(assignPrefix(pipeline.db.pool, attempt), `${attempt.prefix} for grace`).rejects.toBeInstanceOf(AssignmentConflictError);
    }
    expect(await listAssignments(pipeline.db.pool, { from: LONG_AGO, to: new Date('2100-01-01T00:00:00Z') })).toEqual(before);
    // alice's assignment ends at T1, bob's starts there.
    const held = before.filter((a) => a.prefix === '100.67.1.1/32').map((a) => ({ s: a.subscriberId, from: a.validFrom.getTime(), to: a.validTo?.getTime() ?? null }));
    expect(held).toEqual([
      { s: 'alice', from: LONG_AGO.getTime(), to: T1 },
      { s: 'bob', from: T1, to: null },
    ]);
  });

  it('bills reassignment, prefixes, IPv6 holders and classes exactly; the API, usage_1m and the metrics agree', async () => {
    const before = await collector.metrics();
    const all = Object.values(FLOWS).flat();
    // Several messages, in an order unrelated to time.
    const messages = [all.slice(0, 5), all.slice(5, 11), all.slice(11)].map((flows) => exporter.message(flows, Date.now()));
    await sendAll(socket, collector.target, messages);
    await pipeline.waitUntilFlushed(30_000);

    const api = await pipeline.usageApi();
    for (const [id, expected] of Object.entries(EXPECTED_HOUR)) {
      const hour = await api.usage(id, HOUR_RANGE, '1h');
      expect({ id, download: hour.download, upload: hour.upload }, `${id}, hour ${new Date(H).toISOString()}`).toEqual({ id, ...expected });
    }

    // The minute of the reassignment holds usage of both holders.
    const t1Minute = T1 - (T1 % MINUTE);
    const aliceMinutes = (await api.usage('alice', HOUR_RANGE, '1m')).buckets;
    const bobMinutes = (await api.usage('bob', HOUR_RANGE, '1m')).buckets;
    expect(aliceMinutes.get(t1Minute)).toEqual({ download: usage(3_000), upload: none });
    expect(bobMinutes.get(t1Minute)).toEqual({ download: usage(5_000), upload: none });
    expect(Math.max(...aliceMinutes.keys())).toBe(t1Minute);
    expect(Math.min(...bobMinutes.keys())).toBe(t1Minute);

    // Classes: decided by the remote address, billed separately.
    const carol = await api.usage('carol', HOUR_RANGE, '1h');
    expect(carol.byClass).toEqual({ download: { internet: usage(11_000), local: usage(1_234) }, upload: { internet: none, local: usage(4_400) } });
    const dave = await api.usage('dave', HOUR_RANGE, '1h');
    expect(dave.byClass).toEqual({ download: { internet: usage(20_000), local: none }, upload: { internet: none, local: usage(1_000) } });
    expect((await api.usage('frank', HOUR_RANGE, '1h')).byClass).toEqual({ download: { internet: usage(40_000) }, upload: { internet: none } });

    // usage_1m keeps the subscriber-side address of each prefix holder (RFC 5952 for IPv6).
    const addresses = await pipeline.ch.query<{ s: string; a: string }>(
      "SELECT DISTINCT subscriber_id AS s, address AS a FROM usage_1m WHERE subscriber_id IN ('carol', 'dave', 'erin', 'frank') ORDER BY s, a",
    );
    expect(addresses.map((row) => `${row.s} ${row.a}`)).toEqual([
      'carol 100.67.2.1',
      'carol 100.67.2.2',
      'carol 100.67.2.3',
      'dave 2001:db8:67:1::5',
      'dave 2001:db8:67:1:ffff:ffff:ffff:ffff',
      'erin 2001:db8:67:100::1',
      'erin 2001:db8:67:1ff::1',
      'frank 2001:db8:67:2::7',
    ]);

    // Addresses just outside the prefixes: not billed, counted as unattributed.
    const after = await collector.metrics();
    expect(after.sum('flowbill_unattributed_records_total') - before.sum('flowbill_unattributed_records_total')).toBe(3);
    expect(after.sum('flowbill_unattributed_bytes_total') - before.sum('flowbill_unattributed_bytes_total')).toBe(999 + 777 + 888);
    expect(after.sum('flowbill_decoder_records_total') - before.sum('flowbill_decoder_records_total')).toBe(all.length);
    const billed = Object.values(EXPECTED_HOUR).reduce((n, e) => n + e.download.bytes + e.upload.bytes, 0n);
    expect((await pipeline.clickhouseTotals()).bytes).toBe(billed);
  });

  it('an assignment added while the collector runs is applied within seconds (NOTIFY), not retroactively', async () => {
    const probeBytes = 1_000;
    const probeAt = () => Math.floor((Date.now() - 3 * MINUTE) / 1000) * 1000;
    let unattributedProbes = 0;
    let attributedProbes = 0;
    /** Send one probe flow to henry's address and wait to see which way it went. */
    const probe = async (): Promise<'unattributed' | 'billed'> => {
      const metricsBefore = await collector.metrics();
      const acceptedBefore = await pipeline.acceptedTotals();
      await sendAll(socket, collector.target, [exporter.message([flow(INTERNET_V4, HENRY_ADDRESS, probeBytes, probeAt())], Date.now())]);
      let outcome: 'unattributed' | 'billed' | undefined;
      await waitFor(
        'the probe flow to be attributed or counted unattributed',
        async () => {
          const unattributed = (await collector.metrics()).sum('flowbill_unattributed_records_total') - metricsBefore.sum('flowbill_unattributed_records_total');
          const accepted = (await pipeline.acceptedTotals()).flows - acceptedBefore.flows;
          if (unattributed + Number(accepted) > 1) throw new Error(`one probe counted twice: ${unattributed} unattributed, ${accepted} accepted`);
          outcome = unattributed === 1 ? 'unattributed' : accepted === 1n ? 'billed' : undefined;
          return outcome !== undefined;
        },
        { timeoutMs: 5_000, intervalMs: 25 },
      );
      if (outcome === 'unattributed') unattributedProbes++;
      else attributedProbes++;
      return outcome!;
    };

    // Nobody holds the address yet.
    expect(await probe()).toBe('unattributed');
    expect(await probe()).toBe('unattributed');

    // Assign it, valid since long ago; the collector learns it through NOTIFY only.
    const assignedAt = Date.now();
    await assignPrefix(pipeline.db.pool, { subscriberId: 'henry', prefix: `${HENRY_ADDRESS}/32`, from: LONG_AGO });
    let firstBilledAfterMs = -1;
    while (firstBilledAfterMs < 0) {
      if (Date.now() - assignedAt > 5_000) throw new Error(`henry's new assignment did not reach the collector within 5 s (${unattributedProbes} probes unattributed)`);
      if ((await probe()) === 'billed') firstBilledAfterMs = Date.now() - assignedAt;
      else await sleep(100);
    }
    for (let k = 0; k < 3; k++) expect(await probe()).toBe('billed');

    await pipeline.waitUntilFlushed(30_000);
    const api = await pipeline.usageApi();
    const henry = await api.usage('henry', { fromMs: Date.now() - 10 * MINUTE, toMs: Date.now() }, '1m');
    // Billed: exactly the probes sent after the index had it; the earlier ones stay unattributed.
    expect(henry.download).toEqual({ bytes: BigInt(attributedProbes * probeBytes), packets: BigInt(attributedProbes * Math.ceil(probeBytes / 500)) });
    expect(unattributedProbes).toBeGreaterThanOrEqual(2);
    console.log(`[e2e] NOTIFY: henry's assignment was in use ${firstBilledAfterMs} ms after it was committed (${unattributedProbes} probes unattributed, ${attributedProbes} billed)`);
  });
});
