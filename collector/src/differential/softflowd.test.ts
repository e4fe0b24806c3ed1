/**
 * softflowd as a real exporter, our decoder and tshark as two independent readers of what it
 * exports, and the synthetic generator as ground truth.
 *
 * For NetFlow v5 (IPv4 traffic), v9 and IPFIX (IPv4 + IPv6 traffic): generate a seeded
 * capture, let `softflowd -r` export it to a UDP socket of ours, then check
 * - decoder vs tshark: the same multiset of records (src, dst, ports, protocol, octets,
 *   packets) and the same totals;
 * - decoder vs the generator: exactly the records softflowd's flow table must hold, and the
 *   generator's per (src, dst, protocol) totals;
 * - flow start/end and export times: exactly what softflowd's clock arithmetic gives;
 * - a clean decode: no errors, no unknown sampling rates, no sequence loss.
 *
 * How softflowd 1.1.0 behaves with -r (softflowd.c; checked against its source and these runs):
 * - -r implies -d (foreground) and turns the control socket off. Do not pass -c after it:
 *   that turns the socket back on, and softflowd then blocks in accept() for ever, because its
 *   poll() set is only filled in for live capture.
 * - Reading a file it never expires flows on timeouts; at end of file it expires every flow
 *   ("Shutting down after pcap EOF", reason "flushed") and exports them, then exits. So every
 *   flow is exported exactly once, whole: one record per direction that carried traffic.
 * - A flow is softflowd's bidirectional 5-tuple; ICMP puts type*256+code in the destination
 *   port slot of the sender's side, so an echo request and its reply are two flows.
 * - Octets are the captured packet's wire length minus the link header (flow_cb), i.e. the IP
 *   length here: writer.ts does not pad frames to the 60-byte Ethernet minimum and writes no
 *   FCS. On a real Ethernet capture, IPv4 packets under 46 bytes (a bare 40-byte TCP ACK) are
 *   padded, and softflowd would count the padding (6 bytes per such packet) where the
 *   generator counts 40: that is the one systematic difference, and it cannot occur here.
 * - Times. Without -a, softflowd's "boot time" (the origin of sysUptime values) and export
 *   time come from the wall clock while flow start/end come from the pcap: an old capture
 *   gives negative uptimes, wrapped mod 2^32 ms (see the last test). With -a, the boot time
 *   is the first packet's timestamp and "now" (export time) the last packet's, so every time
 *   is derived from the capture; the tests use -a and assert the exact arithmetic.
 */
import { execFile } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FlowFlag } from '../decoder/index.js';
import {
  generateSyntheticTraffic,
  ipPacketLength,
  ipProtocolNumber,
  writePacketsPcap,
  writeUdpDatagramsPcap,
  type PacketSpec,
  type SyntheticTraffic,
} from '../pcap/index.js';
import { announceSkip, findExecutable } from '../pcap/test-environment.js';
import { decodeDatagrams, type DecodedFlow, type DecodeResult } from './decode-datagrams.js';
import { cflowFrames, flowsOfRecord, tsharkPdml, type CflowFrame } from './tshark-cflow.js';

const run = promisify(execFile);
const softflowd = findExecutable('softflowd');
const tshark = findExecutable('tshark');

const SUBSCRIBERS_V4 = ['100.64.0.10', '100.64.0.11', '100.64.7.1'];
const REMOTES_V4 = ['198.51.100.7', '203.0.113.9', '192.0.2.33'];
const SUBSCRIBERS_V6 = ['2001:db8:100::10', '2001:db8:100::11'];
const REMOTES_V6 = ['2001:db8:ffff::1', '2001:db8:ffff::2'];
/** A capture start with a sub-second part, so rounding to seconds or milliseconds shows. */
const CAPTURE_START_MS = Date.UTC(2024, 5, 1, 12, 0, 0) + 250.5;
const TWO_32 = 4294967296;

interface Variant {
  readonly version: 5 | 9 | 10;
  readonly seed: number;
  readonly ipv6: boolean;
}

const VARIANTS: readonly Variant[] = [
  // NetFlow v5 carries IPv4 only (softflowd drops IPv6 packets for it).
  { version: 5, seed: 5_005, ipv6: false },
  { version: 9, seed: 9_009, ipv6: true },
  { version: 10, seed: 10_010, ipv6: true },
];

function trafficFor(variant: Variant): SyntheticTraffic {
  return generateSyntheticTraffic({
    seed: variant.seed,
    subscribers: variant.ipv6 ? [...SUBSCRIBERS_V4, ...SUBSCRIBERS_V6] : SUBSCRIBERS_V4,
    remotes: variant.ipv6 ? [...REMOTES_V4, ...REMOTES_V6] : REMOTES_V4,
    startMs: CAPTURE_START_MS,
    durationMs: 120_000,
    conversations: 60,
  });
}

// ---------------------------------------------------------------------------------------
// Running softflowd

interface Received {
  readonly payload: Uint8Array;
  readonly srcAddress: string;
  readonly srcPort: number;
  readonly receivedAtMs: number;
}

interface SoftflowdRun {
  readonly collectorPort: number;
  readonly datagrams: readonly Received[];
  /** From softflowd's closing statistics. */
  readonly packetsProcessed: number;
  readonly ignoredPackets: number;
  readonly recordsExported: number;
  readonly messagesSent: number;
  readonly sendFailures: number;
}

function bindLoopbackSocket(): Promise<Socket> {
  return new Promise((resolvePromise, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolvePromise(socket));
  });
}

function statistic(output: string, pattern: RegExp): number[] {
  const match = pattern.exec(output);
  if (match === null) throw new Error(`softflowd statistics lack ${pattern}:\n${output}`);
  return match.slice(1).map(Number);
}

/**
 * Export `pcap` with softflowd to a fresh UDP socket on 127.0.0.1 (port 0: concurrent runs do
 * not collide) and collect what arrives until softflowd has exited, every message it says it
 * sent has arrived, and the socket then stays idle.
 */
async function runSoftflowd(pcap: string, version: number, directory: string, extraArguments: readonly string[]): Promise<SoftflowdRun> {
  const socket = await bindLoopbackSocket();
  const datagrams: Received[] = [];
  socket.on('message', (message, remote) => {
    datagrams.push({ payload: new Uint8Array(message), srcAddress: remote.address, srcPort: remote.port, receivedAtMs: Date.now() });
  });
  try {
    const collectorPort = socket.address().port;
    // -d: foreground (implied by -r, said anyway). -p: a pid file of our own, never the system's.
    const { stdout, stderr } = await run(
      softflowd as string,
      ['-r', pcap, '-n', `127.0.0.1:${collectorPort}`, '-v', String(version), '-d', '-p', join(directory, `softflowd-${version}.pid`), ...extraArguments],
      { timeout: 30_000 },
    );
    const output = `${stdout}\n${stderr}`;
    const [packetsProcessed] = statistic(output, /Packets processed: (\d+)/);
    const [ignoredPackets] = statistic(output, /Ignored packets: (\d+)/);
    const [, recordsExported, messagesSent, sendFailures] = statistic(output, /Flows exported: (\d+) \((\d+) records\) in (\d+) packets \((\d+) failures\)/);
    const deadline = Date.now() + 5_000;
    let lastCount = -1;
    let idleSince = Date.now();
    // Loopback delivers in order and at once; wait for the count softflowd reports, then 100 ms of quiet.
    while (Date.now() < deadline) {
      if (datagrams.length !== lastCount) {
        lastCount = datagrams.length;
        idleSince = Date.now();
      } else if (datagrams.length >= messagesSent && Date.now() - idleSince >= 100) {
        break;
      }
      await new Promise((resolveWait) => setTimeout(resolveWait, 10));
    }
    return { collectorPort, datagrams, packetsProcessed, ignoredPackets, recordsExported, messagesSent, sendFailures };
  } finally {
    socket.close();
  }
}

// ---------------------------------------------------------------------------------------
// What softflowd must export, derived from the generated packets

/** Whole microseconds, as the pcap stores the time (writer.ts rounds the same way). */
function micros(packet: PacketSpec): number {
  return Math.round(packet.timestampMs * 1000);
}

/** softflowd's ports for a packet: TCP/UDP ports, or 0 and type*256+code for ICMP. */
function softflowdPorts(packet: PacketSpec): [number, number] {
  if (packet.protocol === 'icmp') return [0, packet.icmpType * 256 + packet.icmpCode];
  return [packet.srcPort, packet.dstPort];
}

interface ExpectedRecord {
  readonly srcAddress: string;
  readonly dstAddress: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly protocol: number;
  readonly icmpTypeCode: number;
  bytes: bigint;
  packets: bigint;
  /** The softflowd flow (both directions) this record belongs to. */
  readonly flow: { firstUs: number; lastUs: number };
}

/**
 * One record per direction of each softflowd flow. v5 carries ICMP type/code in the
 * destination port; the v9/IPFIX ICMP templates of softflowd have no ports but
 * icmpTypeCodeIPv4/IPv6 (32/139) instead.
 */
function expectedRecords(packets: readonly PacketSpec[], version: number): ExpectedRecord[] {
  const flows = new Map<string, { firstUs: number; lastUs: number }>();
  const records = new Map<string, ExpectedRecord>();
  for (const packet of packets) {
    const protocol = ipProtocolNumber(packet);
    const [srcPort, dstPort] = softflowdPorts(packet);
    const ends = [`${packet.srcAddress}#${srcPort}`, `${packet.dstAddress}#${dstPort}`].sort();
    const flowKey = `${protocol}|${ends.join('|')}`;
    const at = micros(packet);
    let flow = flows.get(flowKey);
    if (flow === undefined) {
      flow = { firstUs: at, lastUs: at };
      flows.set(flowKey, flow);
    }
    flow.lastUs = at;
    const icmp = packet.protocol === 'icmp';
    const recordKey = `${protocol}|${packet.srcAddress}|${srcPort}|${packet.dstAddress}|${dstPort}`;
    let record = records.get(recordKey);
    if (record === undefined) {
      record = {
        srcAddress: packet.srcAddress,
        dstAddress: packet.dstAddress,
        srcPort: icmp && version !== 5 ? 0 : srcPort,
        dstPort: icmp && version !== 5 ? 0 : dstPort,
        protocol,
        icmpTypeCode: icmp ? dstPort : 0,
        bytes: 0n,
        packets: 0n,
        flow,
      };
      records.set(recordKey, record);
    }
    record.bytes += BigInt(ipPacketLength(packet));
    record.packets += 1n;
  }
  return [...records.values()];
}

/** softflowd's timeval_sub_ms(t1, t2) for t1 >= t2: whole milliseconds, rounded down. */
function subMs(t1Us: number, t2Us: number): number {
  return Math.floor((t1Us - t2Us) / 1000);
}

/**
 * The start or end time the decoder must give, in ms, for a flow time `atUs`, with -a:
 * boot = first packet, now = last packet.
 * - v5: header unix_secs + unix_nsecs hold `now` to the microsecond (the decoder keeps whole
 *   ms); sysUptime and the record's first/last are ms since boot, rounded down.
 * - v9: the header has whole seconds only, sysUptime and first/last are ms since boot: the
 *   decoded times come out early by the sub-second part of `now` (up to 999 ms).
 * - IPFIX: flowStart/EndSysUpTime (22/21) are ms since boot, and systemInitTimeMilliseconds
 *   (160, in softflowd's options record) is the boot time in whole ms.
 */
function expectedTimeMs(version: number, atUs: number, bootUs: number, nowUs: number): number {
  if (version === 10) return Math.floor(bootUs / 1000) + subMs(atUs, bootUs);
  const exportMs = version === 5 ? Math.floor(nowUs / 1000) : Math.floor(nowUs / 1e6) * 1000;
  return exportMs - (subMs(nowUs, bootUs) - subMs(atUs, bootUs));
}

function expectedExportMs(version: number, nowUs: number): number {
  return version === 5 ? Math.floor(nowUs / 1000) : Math.floor(nowUs / 1e6) * 1000;
}

// ---------------------------------------------------------------------------------------

type FlowTuple = Pick<DecodedFlow, 'srcAddress' | 'dstAddress' | 'srcPort' | 'dstPort' | 'protocol' | 'bytes' | 'packets'>;

function tupleKey(flow: FlowTuple): string {
  return `${flow.srcAddress} ${flow.srcPort} > ${flow.dstAddress} ${flow.dstPort} p${flow.protocol} ${flow.bytes}B ${flow.packets}P`;
}

function directionTotals(flows: readonly FlowTuple[]) {
  const totals = new Map<string, { srcAddress: string; dstAddress: string; protocol: number; packets: number; bytes: number }>();
  for (const flow of flows) {
    const key = `${flow.srcAddress}|${flow.dstAddress}|${flow.protocol}`;
    const entry = totals.get(key) ?? { srcAddress: flow.srcAddress, dstAddress: flow.dstAddress, protocol: flow.protocol, packets: 0, bytes: 0 };
    entry.packets += Number(flow.packets);
    entry.bytes += Number(flow.bytes);
    totals.set(key, entry);
  }
  return [...totals.values()].sort((a, b) => `${a.srcAddress}|${a.dstAddress}|${a.protocol}`.localeCompare(`${b.srcAddress}|${b.dstAddress}|${b.protocol}`));
}

let directory = '';
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'flowbill-differential-softflowd-'));
});
afterAll(async () => {
  if (directory !== '') await rm(directory, { recursive: true, force: true });
});

const noSoftflowd = softflowd === null ? announceSkip('softflowd differential tests', 'softflowd not installed') : '';
const noTshark = tshark === null ? announceSkip('softflowd export read by tshark', 'tshark not installed') : '';

for (const variant of VARIANTS) {
  const label = variant.version === 10 ? 'IPFIX' : `NetFlow v${variant.version}`;
  describe.skipIf(softflowd === null)(`softflowd -v ${variant.version} (${label}) from a synthetic capture, seed ${variant.seed}${noSoftflowd}`, () => {
    let traffic: SyntheticTraffic;
    let exported: SoftflowdRun;
    let ours: DecodeResult;
    let packets: readonly PacketSpec[];

    beforeAll(async () => {
      traffic = trafficFor(variant);
      packets = variant.ipv6 ? traffic.packets : traffic.packets.filter((packet) => !packet.srcAddress.includes(':'));
      const pcap = join(directory, `synthetic-v${variant.version}.pcap`);
      writePacketsPcap(pcap, traffic.packets);
      exported = await runSoftflowd(pcap, variant.version, directory, ['-a']);
      ours = decodeDatagrams(exported.datagrams);
    });

    it('softflowd read every packet and sent every message, all of which arrived', () => {
      expect(traffic.packets.length).toBe(packets.length);
      expect({ processed: exported.packetsProcessed, ignored: exported.ignoredPackets, failures: exported.sendFailures }).toEqual({
        processed: packets.length,
        ignored: 0,
        failures: 0,
      });
      expect(exported.datagrams.length).toBe(exported.messagesSent);
      expect(new Set(exported.datagrams.map((d) => `${d.srcAddress}:${d.srcPort}`)).size).toBe(1);
      expect(exported.datagrams.every((d) => ((d.payload[0] << 8) | d.payload[1]) === variant.version)).toBe(true);
    });

    it('decodes cleanly: no errors, no unknown rates, no sequence loss, nothing held back', () => {
      expect(ours.internalError).toBeNull();
      expect(ours.stats).toHaveLength(1);
      const [stats] = ours.stats;
      expect(stats).toMatchObject({
        messages: exported.messagesSent,
        records: exported.recordsExported,
        errors: {},
        rateUnknownRecords: 0,
        sequenceLost: 0,
        sequenceOutOfOrder: 0,
        restarts: 0,
        missingTemplateSets: 0,
        pendingDroppedSets: 0,
        trailingBytes: 0,
      });
      expect(ours.flows.filter((flow) => flow.flags !== 0 || flow.samplingRate !== 1)).toEqual([]);
    });

    it("gives exactly the records of softflowd's flow table, and the generator totals per (src, dst, protocol)", () => {
      const expected = expectedRecords(packets, variant.version);
      const ourRecords = ours.flows.map((flow) => `${tupleKey(flow)} icmp ${flow.icmpTypeCode}`).sort();
      expect(ourRecords).toEqual(expected.map((record) => `${tupleKey(record)} icmp ${record.icmpTypeCode}`).sort());
      // And, independently of the emulation above, the generator's own ground truth.
      const truth = traffic.totals.byDirection.filter((direction) => variant.ipv6 || !direction.srcAddress.includes(':'));
      const truthAsFlows = truth.map((t) => ({ ...t, srcPort: 0, dstPort: 0, bytes: BigInt(t.bytes), packets: BigInt(t.packets) }));
      expect(directionTotals(ours.flows)).toEqual(directionTotals(truthAsFlows));
      expect(ours.flows.reduce((sum, flow) => sum + flow.bytes, 0n)).toBe(BigInt(truth.reduce((sum, t) => sum + t.bytes, 0)));
    });

    it('gives flow start/end and export times exactly as softflowd -a derives them from the capture', () => {
      const bootUs = micros(packets[0]);
      const nowUs = micros(packets[packets.length - 1]);
      const expected = new Map(expectedRecords(packets, variant.version).map((record) => [`${tupleKey(record)} icmp ${record.icmpTypeCode}`, record]));
      const times = ours.flows.map((flow) => ({
        flow: tupleKey(flow),
        start: flow.startMs,
        end: flow.endMs,
        exportMs: flow.exportMs,
        timeFromExport: (flow.flags & FlowFlag.TimeFromExport) !== 0,
      }));
      expect(times).toEqual(
        ours.flows.map((flow) => {
          const record = expected.get(`${tupleKey(flow)} icmp ${flow.icmpTypeCode}`)!;
          return {
            flow: tupleKey(flow),
            start: expectedTimeMs(variant.version, record.flow.firstUs, bootUs, nowUs),
            end: expectedTimeMs(variant.version, record.flow.lastUs, bootUs, nowUs),
            exportMs: expectedExportMs(variant.version, nowUs),
            timeFromExport: false,
          };
        }),
      );
      // In words: inside the capture's time range, to the millisecond (v5, IPFIX), or up to one
      // second early (v9, whose header has whole seconds).
      const firstMs = packets[0].timestampMs;
      const lastMs = packets[packets.length - 1].timestampMs;
      const slack = variant.version === 9 ? 1000 : 1;
      for (const flow of ours.flows) {
        expect(flow.startMs).toBeGreaterThanOrEqual(Math.floor(firstMs) - slack);
        expect(flow.endMs).toBeLessThanOrEqual(lastMs);
        expect(flow.endMs).toBeGreaterThanOrEqual(flow.startMs);
      }
    });

    it.skipIf(tshark === null)(`reads the same records as tshark's cflow dissector${noTshark}`, async () => {
      const file = join(directory, `export-v${variant.version}.pcap`);
      writeUdpDatagramsPcap(
        file,
        exported.datagrams.map((datagram) => ({
          timestampMs: datagram.receivedAtMs,
          srcAddress: datagram.srcAddress,
          srcPort: datagram.srcPort,
          dstAddress: '127.0.0.1',
          dstPort: exported.collectorPort,
          payload: datagram.payload,
        })),
      );
      const frames: CflowFrame[] = cflowFrames(await tsharkPdml(tshark as string, file, [exported.collectorPort]));
      expect(frames).toHaveLength(exported.datagrams.length);
      expect(frames.filter((frame) => frame.malformed || frame.messages.length !== 1).map((frame) => frame.frame)).toEqual([]);
      const sets = frames.flatMap((frame) => frame.messages.flatMap((message) => message.sets));
      expect(sets.filter((set) => set.kind === 'no-template')).toEqual([]);
      const theirs = sets.filter((set) => set.kind === 'data').flatMap((set) => set.records.flatMap(flowsOfRecord));
      expect(theirs.length).toBe(exported.recordsExported);
      expect(ours.flows.map(tupleKey).sort()).toEqual(theirs.map(tupleKey).sort());
      const sum = (flows: readonly FlowTuple[]) => ({
        records: flows.length,
        octets: flows.reduce((total, flow) => total + flow.bytes, 0n),
        packets: flows.reduce((total, flow) => total + flow.packets, 0n),
      });
      expect(sum(ours.flows)).toEqual(sum(theirs));
      expect(sets.filter((set) => set.kind === 'options-data').reduce((n, set) => n + set.records.length, 0)).toBe(ours.stats[0].optionsRecords);
    });
  });
}

describe.skipIf(softflowd === null)(`softflowd -r without -a${noSoftflowd}`, () => {
  it('mixes clocks: v5 flow times are the capture times only modulo 2^32 ms, within 24.8 days of the wall-clock export', async () => {
    const variant = VARIANTS[0];
    const packets = trafficFor(variant).packets;
    const pcap = join(directory, 'synthetic-no-adjust.pcap');
    writePacketsPcap(pcap, packets);
    const before = Date.now();
    const exported = await runSoftflowd(pcap, 5, directory, []);
    const after = Date.now();
    const ours = decodeDatagrams(exported.datagrams);
    expect(ours.flows.length).toBe(exported.recordsExported);
    const expected = new Map(expectedRecords(packets, 5).map((record) => [tupleKey(record), record]));
    for (const flow of ours.flows) {
      // The export time is the wall clock (softflowd ran between `before` and `after`)...
      expect(flow.exportMs).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
      expect(flow.exportMs).toBeLessThanOrEqual(after);
      // ...and the record's start, relative to a boot time taken from the wall clock, wrapped:
      // what decodes is the true start plus a non-zero multiple of 2^32 ms, the one within 2^31
      // ms of the export time (give or take under 2 ms: the export time, the uptime and the
      // record's uptime are each rounded down to the millisecond).
      const trueStartMs = expected.get(tupleKey(flow))!.flow.firstUs / 1000;
      const offset = flow.startMs - trueStartMs;
      const wraps = Math.round(offset / TWO_32);
      expect(Math.abs(offset - wraps * TWO_32)).toBeLessThan(2);
      expect(wraps).not.toBe(0);
      expect(Math.abs(flow.exportMs - flow.startMs)).toBeLessThan(2 ** 31);
    }
  });
});
