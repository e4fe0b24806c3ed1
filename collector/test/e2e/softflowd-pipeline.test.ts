/**
 * End to end with a real exporter: a seeded synthetic capture -> softflowd (NetFlow v5,
 * v9, IPFIX) -> collector process -> Redis -> flusher process -> ClickHouse -> the usage
 * API. Per subscriber, download and upload bytes and packets from the API equal the
 * capture's own ground truth exactly (layer-3 bytes, generator totals), for /32 and
 * prefix holders, IPv4 and (v9, IPFIX) IPv6 /128, /64 and /56.
 *
 * Also: a sender outside COLLECTOR_EXPORTERS is dropped, counted in
 * flowbill_udp_dropped_total{reason="exporter-not-allowed"}, and nothing it sent is billed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSyntheticTraffic, writePacketsPcap, type SyntheticTraffic } from '../../src/pcap/index.js';
import { announceSkip } from '../../src/pcap/test-environment.js';
import { bindSender, planReplay, sendAll } from './support/replay.js';
import { exportWithSoftflowd, SOFTFLOWD } from './support/softflowd.js';
import { type CollectorProcess, Pipeline, type SubscriberSpec, useE2eServers } from './support/stack.js';
import { waitFor } from './support/wait.js';

interface Holder {
  readonly id: string;
  readonly prefix: string;
  /** Addresses inside `prefix` that the capture uses. */
  readonly addresses: readonly string[];
}

interface Variant {
  readonly version: 5 | 9 | 10;
  readonly label: string;
  readonly seed: number;
  readonly holders: readonly Holder[];
}

const REMOTES_V4 = ['198.51.100.7', '203.0.113.9', '192.0.2.33'];
const REMOTES_V6 = ['2001:db8:ffff::1', '2001:db8:ffff::2'];

const VARIANTS: readonly Variant[] = [
  {
    version: 5,
    label: 'NetFlow v5',
    seed: 5_505,
    // v5 carries IPv4 only.
    holders: [
      { id: 'v5-host-a', prefix: '100.65.5.10/32', addresses: ['100.65.5.10'] },
      { id: 'v5-host-b', prefix: '100.65.5.20/32', addresses: ['100.65.5.20'] },
      { id: 'v5-net', prefix: '100.65.6.0/24', addresses: ['100.65.6.1', '100.65.6.77'] },
    ],
  },
  {
    version: 9,
    label: 'NetFlow v9',
    seed: 9_909,
    holders: [
      { id: 'v9-host', prefix: '100.65.9.10/32', addresses: ['100.65.9.10'] },
      { id: 'v9-net30', prefix: '100.65.10.0/30', addresses: ['100.65.10.1', '100.65.10.2'] },
      { id: 'v9-v6-64', prefix: '2001:db8:9:1::/64', addresses: ['2001:db8:9:1::10', '2001:db8:9:1:abcd::1'] },
      { id: 'v9-v6-56', prefix: '2001:db8:9:100::/56', addresses: ['2001:db8:9:1ff::1'] },
      { id: 'v9-v6-128', prefix: '2001:db8:9:2::7/128', addresses: ['2001:db8:9:2::7'] },
    ],
  },
  {
    version: 10,
    label: 'IPFIX',
    seed: 10_110,
    holders: [
      { id: 'ipfix-host', prefix: '100.65.11.10/32', addresses: ['100.65.11.10'] },
      { id: 'ipfix-net30', prefix: '100.65.12.4/30', addresses: ['100.65.12.5', '100.65.12.7'] },
      { id: 'ipfix-v6-64', prefix: '2001:db8:10:1::/64', addresses: ['2001:db8:10:1::10', '2001:db8:10:1:ffff::2'] },
      { id: 'ipfix-v6-56', prefix: '2001:db8:10:200::/56', addresses: ['2001:db8:10:2aa::1'] },
      { id: 'ipfix-v6-128', prefix: '2001:db8:10:2::7/128', addresses: ['2001:db8:10:2::7'] },
    ],
  },
];

/** The subscriber a disallowed exporter tries to bill. */
const VICTIM: Holder = { id: 'not-billed', prefix: '100.65.99.1/32', addresses: ['100.65.99.1'] };

/** 20 minutes back: every minute of the capture is long closed when the flusher looks. */
const CAPTURE_START_MS = Math.floor(Date.now() / 60_000) * 60_000 - 20 * 60_000 + 250.5;
const CAPTURE_DURATION_MS = 120_000;
/** The API range: the capture's minutes, with a minute of slack (v9 times can come out up to 1 s early). */
const RANGE = { fromMs: CAPTURE_START_MS - 60_000, toMs: CAPTURE_START_MS + CAPTURE_DURATION_MS + 60_000 };

const servers = useE2eServers();
let pipeline: Pipeline;
let collector: CollectorProcess;
let directory = '';

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'flowbill-e2e-softflowd-'));
  const holders = [...VARIANTS.flatMap((variant) => variant.holders), VICTIM];
  const subscribers: SubscriberSpec[] = holders.map((holder) => ({ id: holder.id, assignments: [{ prefix: holder.prefix }] }));
  pipeline = await Pipeline.create(servers(), subscribers);
  [collector] = await Promise.all([pipeline.startCollector({ id: 'e2e-softflowd', exporters: '127.0.0.1/32' }), pipeline.startFlusher('e2e-softflowd-flusher')]);
});
afterAll(async () => {
  await pipeline?.close();
  if (directory !== '') await rm(directory, { recursive: true, force: true });
});

function trafficFor(variant: Variant): SyntheticTraffic {
  const ipv6 = variant.version !== 5;
  return generateSyntheticTraffic({
    seed: variant.seed,
    subscribers: variant.holders.flatMap((holder) => holder.addresses),
    remotes: ipv6 ? [...REMOTES_V4, ...REMOTES_V6] : REMOTES_V4,
    startMs: CAPTURE_START_MS,
    durationMs: CAPTURE_DURATION_MS,
    conversations: 60,
  });
}

/** Ground truth per subscriber: the generator's per-address totals, summed over each holder's addresses. */
function truthByHolder(variant: Variant, traffic: SyntheticTraffic) {
  const byAddress = new Map(traffic.totals.byAddress.map((total) => [total.address, total]));
  return variant.holders.map((holder) => {
    const totals = holder.addresses.map((address) => byAddress.get(address));
    return {
      id: holder.id,
      download: { bytes: BigInt(totals.reduce((n, t) => n + (t?.bytesReceived ?? 0), 0)), packets: BigInt(totals.reduce((n, t) => n + (t?.packetsReceived ?? 0), 0)) },
      upload: { bytes: BigInt(totals.reduce((n, t) => n + (t?.bytesSent ?? 0), 0)), packets: BigInt(totals.reduce((n, t) => n + (t?.packetsSent ?? 0), 0)) },
    };
  });
}

const noSoftflowd = SOFTFLOWD === null ? announceSkip('end-to-end tests through softflowd', 'softflowd not installed') : '';

describe.skipIf(SOFTFLOWD === null)(`capture -> softflowd -> collector -> Redis -> ClickHouse -> API${noSoftflowd}`, () => {
  for (const variant of VARIANTS) {
    it(`${variant.label} (softflowd -v ${variant.version}, seed ${variant.seed}): per-subscriber API totals equal the capture's ground truth exactly`, async () => {
      const traffic = trafficFor(variant);
      // Every holder has traffic (the generator cycles through the addresses first), in both directions.
      const truth = truthByHolder(variant, traffic);
      for (const t of truth) expect(t.download.bytes > 0n && t.upload.bytes > 0n, `${t.id} has traffic both ways`).toBe(true);
      const pcap = join(directory, `v${variant.version}.pcap`);
      writePacketsPcap(pcap, traffic.packets);

      const before = await collector.metrics();
      const exported = await exportWithSoftflowd(pcap, variant.version, collector.udpPort, directory);
      expect({ processed: exported.packetsProcessed, ignored: exported.ignoredPackets, failures: exported.sendFailures }).toEqual({
        processed: traffic.packets.length,
        ignored: 0,
        failures: 0,
      });
      // Every message softflowd sent reached the collector (nothing dropped on the way).
      await waitFor(
        `the collector to receive softflowd's ${exported.messagesSent} messages`,
        async () => (await collector.metrics()).sum('flowbill_udp_datagrams_total') - before.sum('flowbill_udp_datagrams_total') === exported.messagesSent,
        { timeoutMs: 10_000 },
      );
      const state = await pipeline.waitUntilFlushed(45_000);
      expect(state.clickhouse).toEqual(state.accepted);

      const after = await collector.metrics();
      const delta = (name: string) => after.sum(name) - before.sum(name);
      expect({
        records: delta('flowbill_decoder_records_total'),
        errors: delta('flowbill_decoder_errors_total'),
        unattributed: delta('flowbill_unattributed_records_total'),
        rateUnknown: delta('flowbill_decoder_rate_unknown_records_total'),
        sequenceLost: delta('flowbill_decoder_sequence_lost_total'),
        missingTemplates: delta('flowbill_decoder_missing_template_sets_total'),
      }).toEqual({ records: exported.recordsExported, errors: 0, unattributed: 0, rateUnknown: 0, sequenceLost: 0, missingTemplates: 0 });

      const api = await pipeline.usageApi();
      for (const expected of truth) {
        const perMinute = await api.usage(expected.id, RANGE, '1m');
        expect({ id: expected.id, download: perMinute.download, upload: perMinute.upload }, `${expected.id}, step 1m`).toEqual(expected);
        // Everything is in the default class, and the hourly rollup says the same.
        expect(Object.keys(perMinute.byClass.download)).toEqual(['internet']);
        const perHour = await api.usage(expected.id, RANGE, '1h');
        expect({ id: expected.id, download: perHour.download, upload: perHour.upload }, `${expected.id}, step 1h`).toEqual(expected);
      }
      // Nothing of this capture landed outside the queried range (usage_1m over all time
      // holds the same), and the holders' truth adds up to the whole capture.
      const allTime = await Promise.all(variant.holders.map((holder) => pipeline.clickhouseTotals(holder.id)));
      const truthBytes = truth.reduce((n, t) => n + t.download.bytes + t.upload.bytes, 0n);
      expect(allTime.reduce((n, t) => n + t.bytes, 0n)).toBe(truthBytes);
      expect(truthBytes).toBe(BigInt(traffic.totals.bytes));
    });
  }
});

describe('exporter allowlist', () => {
  it('drops a sender outside COLLECTOR_EXPORTERS, counts it in flowbill_udp_dropped_total, and bills none of its bytes', async () => {
    const before = await collector.metrics();
    const acceptedBefore = await pipeline.acceptedTotals();
    // 127.0.0.2 is loopback too, but COLLECTOR_EXPORTERS is 127.0.0.1/32.
    const socket = await bindSender('127.0.0.2');
    const messages = planReplay({
      seed: 4242,
      messages: 7,
      recordsPerMessage: 10,
      rateHz: 100,
      firstSendMs: Date.now(),
      subscribers: [{ subscriberId: VICTIM.id, addresses: VICTIM.addresses }],
      remotes4: REMOTES_V4,
      remotes6: REMOTES_V6,
    });
    try {
      await sendAll(socket, collector.target, messages.map((m) => m.payload));
    } finally {
      socket.close();
    }
    await waitFor(
      'the collector to count 7 datagrams from a sender not allowed',
      async () => (await collector.metrics()).sum('flowbill_udp_dropped_total', { reason: 'exporter-not-allowed' }) - before.sum('flowbill_udp_dropped_total', { reason: 'exporter-not-allowed' }) === 7,
      { timeoutMs: 10_000, describe: async () => JSON.stringify((await collector.metrics()).series('flowbill_udp_dropped_total')) },
    );
    const after = await collector.metrics();
    // Dropped before decoding: not received, not decoded, not unattributed.
    expect(after.sum('flowbill_udp_datagrams_total')).toBe(before.sum('flowbill_udp_datagrams_total'));
    expect(after.sum('flowbill_decoder_records_total')).toBe(before.sum('flowbill_decoder_records_total'));
    const state = await pipeline.waitUntilFlushed(30_000);
    expect(state.accepted).toEqual(acceptedBefore);
    const api = await pipeline.usageApi();
    const victim = await api.usage(VICTIM.id, { fromMs: Date.now() - 24 * 3_600_000, toMs: Date.now() + 60_000 }, '1h');
    expect({ download: victim.download, upload: victim.upload }).toEqual({ download: { bytes: 0n, packets: 0n }, upload: { bytes: 0n, packets: 0n } });
    expect(await pipeline.clickhouseTotals(VICTIM.id)).toEqual({ bytes: 0n, packets: 0n, flows: 0n });
  });
});
