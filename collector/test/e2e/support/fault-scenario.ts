/**
 * What the fault tests share: subscribers (IPv4 hosts and prefixes, IPv6 prefixes), a
 * seeded replay of pre-built NetFlow v9 messages, and the exactness checks.
 */
import { randomInt } from 'node:crypto';
import { expect } from 'vitest';
import { SeededRandom } from '../../../src/pcap/prng.js';
import { expectedBySubscriber, expectedTotals, flowTimeRange, planReplay, type PlannedMessage, type SubscriberAddresses, type Totals } from './replay.js';
import type { CollectorProcess, FlusherProcess, Pipeline, SubscriberSpec } from './stack.js';
import { waitForStable } from './wait.js';

export const FAULT_HOLDERS: readonly (SubscriberAddresses & { prefix: string })[] = [
  ...Array.from({ length: 10 }, (_, k) => ({ subscriberId: `host-${k}`, prefix: `100.66.0.${k + 1}/32`, addresses: [`100.66.0.${k + 1}`] })),
  { subscriberId: 'net30-a', prefix: '100.66.1.0/30', addresses: ['100.66.1.1', '100.66.1.2', '100.66.1.3'] },
  { subscriberId: 'net30-b', prefix: '100.66.1.4/30', addresses: ['100.66.1.5', '100.66.1.6'] },
  { subscriberId: 'v6-64-a', prefix: '2001:db8:66:1::/64', addresses: ['2001:db8:66:1::1', '2001:db8:66:1:8000::2'] },
  { subscriberId: 'v6-56', prefix: '2001:db8:66:200::/56', addresses: ['2001:db8:66:2ff::1', '2001:db8:66:201::9'] },
  { subscriberId: 'v6-128', prefix: '2001:db8:66:3::3/128', addresses: ['2001:db8:66:3::3'] },
];

export const FAULT_SUBSCRIBERS: readonly SubscriberSpec[] = FAULT_HOLDERS.map((holder) => ({ id: holder.subscriberId, assignments: [{ prefix: holder.prefix }] }));

export const REMOTES_V4 = ['198.51.100.7', '203.0.113.9', '192.0.2.33', '198.51.100.200'];
export const REMOTES_V6 = ['2001:db8:ffff::1', '2001:db8:ffff::2'];

/**
 * The seed of a fault test's random moments: FLOWBILL_E2E_SEED if set, else a fresh one.
 * Printed, so a failing run can be repeated with the same moments.
 */
export function faultSeed(test: string): number {
  const fromEnv = process.env.FLOWBILL_E2E_SEED;
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : randomInt(1, 2 ** 31 - 1);
  console.log(`[e2e] ${test}: seed ${seed} (FLOWBILL_E2E_SEED=${seed} repeats these fault moments)`);
  return seed;
}

export function faultRandom(seed: number): SeededRandom {
  return new SeededRandom(seed);
}

export interface ReplayShape {
  readonly messages: number;
  readonly rateHz: number;
  readonly recordsPerMessage: number;
}

export const DEFAULT_SHAPE: ReplayShape = { messages: 1_000, rateHz: 100, recordsPerMessage: 20 };

/** Pre-built messages over FAULT_HOLDERS, planned to start now. */
export function planFaultReplay(seed: number, shape: ReplayShape = DEFAULT_SHAPE, holders: readonly SubscriberAddresses[] = FAULT_HOLDERS): PlannedMessage[] {
  return planReplay({ seed, ...shape, firstSendMs: Date.now() + 500, subscribers: holders, remotes4: REMOTES_V4, remotes6: REMOTES_V6 });
}

/** The pipeline with one collector and one flusher, over FAULT_SUBSCRIBERS. */
export async function startFaultPipeline(
  pipeline: Pipeline,
  collectorId = 'fault-collector',
  flusherId = 'fault-flusher',
): Promise<{ collector: CollectorProcess; flusher: FlusherProcess }> {
  const [collector, flusher] = await Promise.all([pipeline.startCollector({ id: collectorId }), pipeline.startFlusher(flusherId)]);
  return { collector, flusher };
}

/**
 * The collector received every datagram sent to it and decoded every record: nothing was
 * dropped by the kernel (socket buffer) or refused by the Redis sink.
 */
export async function expectCollectorGotEverything(collector: CollectorProcess, sentDatagrams: number, records: number): Promise<void> {
  const snapshot = await waitForStable(
    `${collector.options.name}'s received/decoded counters`,
    async () => {
      const m = await collector.metrics();
      return { datagrams: m.sum('flowbill_udp_datagrams_total'), records: m.sum('flowbill_decoder_records_total') };
    },
    { timeoutMs: 15_000, quietMs: 500 },
  );
  const m = await collector.metrics();
  expect(
    {
      datagrams: snapshot.datagrams,
      records: snapshot.records,
      decodeErrors: m.sum('flowbill_decoder_errors_total'),
      refused: m.sum('flowbill_sink_refused_entries_total'),
      unattributed: m.sum('flowbill_unattributed_records_total'),
    },
    `${collector.options.name}: everything sent was received, decoded and attributed (no kernel drop, no refusal)`,
  ).toEqual({ datagrams: sentDatagrams, records, decodeErrors: 0, refused: 0, unattributed: 0 });
  expect(collector.log).not.toMatch(/refused \d+ usage entries/);
}

/** ClickHouse == Redis accepted == `messages`' usage, in total and per subscriber through the API; no batch twice. */
export async function expectExactly(pipeline: Pipeline, messages: readonly PlannedMessage[], what: string, timeoutMs = 90_000): Promise<void> {
  const state = await pipeline.waitUntilFlushed(timeoutMs);
  const sent = expectedTotals(messages);
  expect({ clickhouse: state.clickhouse, accepted: state.accepted }, `${what}: ClickHouse and Redis accepted totals equal what was sent`).toEqual({
    clickhouse: sent,
    accepted: sent,
  });
  await expectPerSubscriber(pipeline, messages, what);
  await expectNoDuplicateBatches(pipeline);
}

/** Per subscriber and direction, from the API (step 1m over the flows' range), equal to `messages`' usage. */
export async function expectPerSubscriber(pipeline: Pipeline, messages: readonly PlannedMessage[], what: string): Promise<void> {
  const expected = expectedBySubscriber(messages);
  const range = flowTimeRange(messages);
  const api = await pipeline.usageApi();
  const got = new Map<string, unknown>();
  const want = new Map<string, unknown>();
  for (const holder of FAULT_HOLDERS) {
    const usage = await api.usage(holder.subscriberId, { fromMs: range.fromMs, toMs: range.toMs + 1 }, '1m');
    got.set(holder.subscriberId, { download: usage.download, upload: usage.upload });
    want.set(holder.subscriberId, expected.get(holder.subscriberId) ?? { download: { bytes: 0n, packets: 0n }, upload: { bytes: 0n, packets: 0n } });
  }
  expect(Object.fromEntries(got), `${what}: per-subscriber usage from the API`).toEqual(Object.fromEntries(want));
}

export async function expectNoDuplicateBatches(pipeline: Pipeline): Promise<void> {
  const audit = await pipeline.batchAudit();
  expect(audit.duplicated, 'batch parts inserted twice').toEqual([]);
  expect(audit.flushBatchRows, 'flush_batches rows = distinct batch ids in usage_1m').toBe(audit.distinctBatchIdsInUsage);
}

export function formatTotals(t: Totals): string {
  return `${t.bytes} bytes / ${t.packets} packets / ${t.flows} flows`;
}
