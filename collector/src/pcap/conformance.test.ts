/**
 * Real captures from other collectors' test suites (shared/conformance): the reader must
 * find every export datagram in them, and agree with tshark frame by frame.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

import { readPcapFile } from './reader.js';
import { announceSkip, findExecutable, findSharedDirectory } from './test-environment.js';

const run = promisify(execFile);
const sharedDirectory = findSharedDirectory();
const tshark = findExecutable('tshark');
const conformanceDirectory = sharedDirectory === null ? '' : join(sharedDirectory, 'conformance');

function pcapFilesUnder(directory: string): string[] {
  return readdirSync(directory, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.pcap'))
    .sort()
    .map((name) => join(directory, name));
}

const noShared = sharedDirectory === null ? announceSkip('real-capture tests', 'no shared/conformance directory found') : '';

describe.skipIf(sharedDirectory === null)(`real captures${noShared}`, () => {
  it('finds the one NetFlow v5 datagram in akvorado/nfv5.pcap', () => {
    const { datagrams, stats } = readPcapFile(join(conformanceDirectory, 'akvorado', 'nfv5.pcap'));
    expect(datagrams).toHaveLength(1);
    const [datagram] = datagrams;
    expect([datagram.payload[0], datagram.payload[1]]).toEqual([0x00, 0x05]);
    // 24-byte header + 29 records of 48 bytes, as the corpus README says.
    expect(datagram.payload.length).toBe(24 + 29 * 48);
    expect(datagram).toMatchObject({ srcAddress: '10.19.144.41', srcPort: 40000, dstAddress: '10.19.144.26', dstPort: 9990 });
    expect(stats).toMatchObject({ frames: 1, datagrams: 1, damage: null });
  });

  it('reads every capture in the corpus whole, each frame a datagram', () => {
    const files = pcapFilesUnder(conformanceDirectory);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const { stats } = readPcapFile(file);
      expect({ file: relative(conformanceDirectory, file), ...stats }).toMatchObject({
        file: relative(conformanceDirectory, file),
        damage: null,
        datagrams: stats.frames,
      });
    }
  });
});

const noTshark = tshark === null ? announceSkip('tshark cross-check of the corpus', 'tshark not installed') : '';

describe.skipIf(sharedDirectory === null || tshark === null)(`reader agrees with tshark on the corpus${noShared || noTshark}`, () => {
  it('sees the same UDP frames, addresses, ports and lengths as tshark', async () => {
    const files = pcapFilesUnder(conformanceDirectory);
    // Two tshark processes at a time: each takes a fraction of a second to start, and CI has two cores.
    const queue = [...files];
    const worker = async (): Promise<void> => {
      for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
        const { stdout } = await run(
          tshark as string,
          [
            '-r', file, '-n',
            '-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE',
            '-Y', 'udp', '-T', 'fields', '-E', 'separator=/t',
            '-e', 'frame.number', '-e', 'ip.src', '-e', 'ipv6.src', '-e', 'udp.srcport',
            '-e', 'ip.dst', '-e', 'ipv6.dst', '-e', 'udp.dstport', '-e', 'udp.length',
          ],
          { maxBuffer: 64 * 1024 * 1024 },
        );
        const fromTshark = stdout
          .trim()
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => {
            const [frame, ip4src, ip6src, srcPort, ip4dst, ip6dst, dstPort, udpLength] = line.split('\t');
            return `${frame} ${ip4src || ip6src}:${srcPort} > ${ip4dst || ip6dst}:${dstPort} ${Number(udpLength) - 8}`;
          });
        const ours = readPcapFile(file).datagrams.map(
          (d) => `${d.frameNumber} ${d.srcAddress}:${d.srcPort} > ${d.dstAddress}:${d.dstPort} ${d.payload.length}`,
        );
        expect({ file: relative(conformanceDirectory, file), frames: ours }).toEqual({
          file: relative(conformanceDirectory, file),
          frames: fromTshark,
        });
      }
    };
    await Promise.all([worker(), worker()]);
  });
});
