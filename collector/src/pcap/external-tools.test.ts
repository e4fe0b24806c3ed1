/**
 * The writer and the synthetic generator against real tools: tshark must decode what we
 * write (with checksum validation on), and softflowd must turn a synthetic capture into
 * NetFlow v5 whose counters match the generator's ground truth.
 */
import { execFile } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { readPcapFile } from './reader.js';
import { generateSyntheticTraffic, type DirectionTotal } from './synthetic.js';
import { announceSkip, findExecutable, findSharedDirectory } from './test-environment.js';
import { writePacketsPcap, writeUdpDatagramsPcap, type UdpDatagramSpec } from './writer.js';

const run = promisify(execFile);
const tshark = findExecutable('tshark');
const softflowd = findExecutable('softflowd');
const sharedDirectory = findSharedDirectory();

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'flowbill-pcap-tools-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

/** tshark -T fields output as rows of columns. */
async function tsharkFields(file: string, fields: readonly string[], extraArguments: readonly string[] = []): Promise<string[][]> {
  const checksums = ['ip', 'tcp', 'udp'].flatMap((protocol) => ['-o', `${protocol}.check_checksum:TRUE`]);
  const args = ['-r', file, '-n', ...checksums, ...extraArguments, '-T', 'fields', '-E', 'separator=/t', ...fields.flatMap((f) => ['-e', f])];
  const { stdout } = await run(tshark as string, args, { maxBuffer: 256 * 1024 * 1024 });
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split('\t'));
}

const SUBSCRIBERS = ['100.64.0.10', '100.64.0.11', '100.64.7.1', '2001:db8:100::10'];
const REMOTES = ['198.51.100.7', '203.0.113.9', '2001:db8:ffff::1'];
/** tshark's checksum status: 0 bad, 1 good, 2 not verified. */
const CHECKSUM_GOOD = '1';

const noTshark = tshark === null ? announceSkip('tshark tests', 'tshark not installed') : '';

describe.skipIf(tshark === null)(`tshark decodes what writer.ts writes${noTshark}`, () => {
  it('sees the same UDP datagrams, with good IP and UDP checksums', async () => {
    const t0 = Date.UTC(2024, 5, 1);
    const datagrams: UdpDatagramSpec[] = [
      { timestampMs: t0, srcAddress: '192.0.2.10', srcPort: 50_000, dstAddress: '198.51.100.1', dstPort: 2055, payload: new Uint8Array(100) },
      { timestampMs: t0 + 1.5, srcAddress: '2001:db8::a', srcPort: 50_001, dstAddress: '2001:db8::1', dstPort: 4739, payload: new Uint8Array(1400).fill(1) },
      { timestampMs: t0 + 2000, srcAddress: '10.0.0.1', srcPort: 9995, dstAddress: '10.0.0.2', dstPort: 9996, payload: new Uint8Array(1) },
    ];
    for (const vlanIds of [[], [20, 10]]) {
      const file = join(directory, `datagrams-${vlanIds.length}.pcap`);
      writeUdpDatagramsPcap(file, datagrams, { vlanIds });
      const rows = await tsharkFields(file, [
        'frame.time_epoch', 'udp.srcport', 'udp.dstport', 'udp.length', 'ip.checksum.status', 'udp.checksum.status',
        'ieee8021ad.id', 'vlan.id',
      ]);
      expect(rows).toHaveLength(datagrams.length);
      rows.forEach(([epoch, srcPort, dstPort, length, ipChecksum, udpChecksum, serviceVlan, customerVlan], index) => {
        const sent = datagrams[index];
        expect(Number(epoch) * 1000).toBeCloseTo(sent.timestampMs, 2);
        expect([Number(srcPort), Number(dstPort), Number(length)]).toEqual([sent.srcPort, sent.dstPort, sent.payload.length + 8]);
        if (!sent.srcAddress.includes(':')) expect(ipChecksum).toBe(CHECKSUM_GOOD);
        expect(udpChecksum).toBe(CHECKSUM_GOOD);
        // tshark names the outer 802.1ad tag and the inner 802.1Q tag differently.
        expect([serviceVlan, customerVlan].filter((id) => id !== '').map(Number)).toEqual(vlanIds);
      });
    }
  });

  it('accepts every synthetic packet: checksums good, TCP sequence analysis clean', async () => {
    const traffic = generateSyntheticTraffic({
      seed: 99, subscribers: SUBSCRIBERS, remotes: REMOTES, startMs: Date.UTC(2024, 5, 1), durationMs: 60_000, conversations: 16,
    });
    const file = join(directory, 'synthetic-checksums.pcap');
    writePacketsPcap(file, traffic.packets);
    const statusFields = ['ip.checksum.status', 'tcp.checksum.status', 'udp.checksum.status', 'icmp.checksum.status', 'icmpv6.checksum.status'];
    const rows = await tsharkFields(file, ['frame.len', ...statusFields, 'tcp.analysis.flags']);
    expect(rows).toHaveLength(traffic.packets.length);
    const problems = rows.flatMap(([, ...columns], index) => {
      const statuses = columns.slice(0, statusFields.length);
      const bad = statuses.map((status, i) => [statusFields[i], status]).filter(([, status]) => status !== '' && status !== CHECKSUM_GOOD);
      const tcpAnalysis = columns[statusFields.length];
      return [...bad.map(([field, status]) => `frame ${index + 1}: ${field}=${status}`), ...(tcpAnalysis ? [`frame ${index + 1}: TCP analysis flags`] : [])];
    });
    expect(problems).toEqual([]);
    // Every frame was checked by at least one checksum.
    expect(rows.every(([, ...columns]) => columns.slice(0, statusFields.length).includes(CHECKSUM_GOOD))).toBe(true);
  });

  const noShared = sharedDirectory === null ? announceSkip('NetFlow re-wrap test', 'no shared/conformance directory found') : '';

  it.skipIf(sharedDirectory === null)(`decodes a received NetFlow v5 payload re-wrapped into a pcap${noShared}`, async () => {
    const [received] = readPcapFile(join(sharedDirectory as string, 'conformance', 'akvorado', 'nfv5.pcap')).datagrams;
    const file = join(directory, 'rewrapped-nfv5.pcap');
    // 2055 is the port tshark's NetFlow dissector listens on by default.
    writeUdpDatagramsPcap(file, [{ ...received, dstPort: 2055 }]);
    const rows = await tsharkFields(file, ['cflow.version', 'cflow.count', 'ip.src']);
    expect(rows).toEqual([['5', '29', received.srcAddress]]);
  });
});

interface NetflowV5Record {
  readonly srcAddress: string;
  readonly dstAddress: string;
  readonly protocol: number;
  readonly packets: number;
  readonly octets: number;
}

/** Just enough NetFlow v5 decoding to check counters: 24-byte header, 48-byte records. */
function decodeNetflowV5(message: Buffer): NetflowV5Record[] {
  const count = message.readUInt16BE(2);
  if (message.readUInt16BE(0) !== 5 || message.length !== 24 + 48 * count) {
    throw new Error(`not a NetFlow v5 message: ${message.subarray(0, 24).toString('hex')}`);
  }
  const ipv4 = (offset: number) => [0, 1, 2, 3].map((i) => message[offset + i]).join('.');
  return Array.from({ length: count }, (_, index) => {
    const at = 24 + index * 48;
    return {
      srcAddress: ipv4(at),
      dstAddress: ipv4(at + 4),
      packets: message.readUInt32BE(at + 16),
      octets: message.readUInt32BE(at + 20),
      protocol: message[at + 38],
    };
  });
}

function directionKey(direction: { srcAddress: string; dstAddress: string; protocol: number }): string {
  return `${direction.srcAddress}|${direction.dstAddress}|${direction.protocol}`;
}

function byDirectionKey(a: DirectionTotal, b: DirectionTotal): number {
  return directionKey(a).localeCompare(directionKey(b));
}

function bindLoopbackSocket(): Promise<Socket> {
  return new Promise((resolvePromise, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolvePromise(socket));
  });
}

const noSoftflowd = softflowd === null ? announceSkip('softflowd test', 'softflowd not installed') : '';

describe.skipIf(softflowd === null)(`softflowd turns a synthetic capture into NetFlow v5${noSoftflowd}`, () => {
  it('exports records whose counters equal the generator totals for IPv4', async () => {
    const traffic = generateSyntheticTraffic({
      seed: 7, subscribers: SUBSCRIBERS, remotes: REMOTES, startMs: Date.UTC(2024, 5, 1), durationMs: 120_000, conversations: 24,
    });
    const file = join(directory, 'synthetic.pcap');
    writePacketsPcap(file, traffic.packets);
    // NetFlow v5 carries IPv4 only; softflowd ignores IPv6 unless told otherwise.
    const expected = traffic.totals.byDirection.filter((direction) => !direction.srcAddress.includes(':'));
    const expectedOctets = expected.reduce((sum, direction) => sum + direction.bytes, 0);

    const socket = await bindLoopbackSocket();
    const messages: Buffer[] = [];
    socket.on('message', (message) => messages.push(message));
    const receivedOctets = (): number =>
      messages.flatMap(decodeNetflowV5).reduce((sum, record) => sum + record.octets, 0);
    try {
      const { port } = socket.address();
      // -d: stay in the foreground and exit at the end of the file (it flushes every flow then).
      // -p: a pid file of our own, so a softflowd daemon on this machine is left alone.
      await run(softflowd as string, ['-r', file, '-n', `127.0.0.1:${port}`, '-v', '5', '-d', '-p', join(directory, 'softflowd.pid')], {
        timeout: 30_000,
      });
      // The export datagrams were sent before softflowd exited; give the event loop time to deliver them.
      const deadline = Date.now() + 5_000;
      while (receivedOctets() < expectedOctets && Date.now() < deadline) {
        await new Promise((resolveWait) => setTimeout(resolveWait, 20));
      }
    } finally {
      socket.close();
    }

    expect(messages.length).toBeGreaterThan(0);
    const reported = new Map<string, DirectionTotal>();
    for (const record of messages.flatMap(decodeNetflowV5)) {
      const key = directionKey(record);
      const sum = reported.get(key);
      reported.set(key, {
        srcAddress: record.srcAddress,
        dstAddress: record.dstAddress,
        protocol: record.protocol,
        packets: (sum?.packets ?? 0) + record.packets,
        bytes: (sum?.bytes ?? 0) + record.octets,
      });
    }
    expect([...reported.values()].sort(byDirectionKey)).toEqual([...expected].sort(byDirectionKey));
  });
});
