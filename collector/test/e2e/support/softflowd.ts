/**
 * softflowd as the exporter of the end-to-end tests: it reads a capture (`-r`) and sends
 * its flows to the collector's UDP port, as collector/src/differential does (see its
 * README for what softflowd 1.1.0 does with -r; in short: every flow is exported once at
 * end of file, then it exits; with -a all times come from the capture).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findExecutable } from '../../../src/pcap/test-environment.js';

const run = promisify(execFile);

export const SOFTFLOWD = findExecutable('softflowd');

export interface SoftflowdExport {
  readonly packetsProcessed: number;
  readonly ignoredPackets: number;
  readonly flowsExported: number;
  readonly recordsExported: number;
  readonly messagesSent: number;
  readonly sendFailures: number;
  readonly output: string;
}

function statistic(output: string, pattern: RegExp): number[] {
  const match = pattern.exec(output);
  if (match === null) throw new Error(`softflowd statistics lack ${pattern}:\n${output}`);
  return match.slice(1).map(Number);
}

/** `softflowd -r pcap -n 127.0.0.1:port -v version -d -a -p <pid file>`; resolves when it has exited. */
export async function exportWithSoftflowd(pcap: string, version: 5 | 9 | 10, port: number, directory: string): Promise<SoftflowdExport> {
  if (SOFTFLOWD === null) throw new Error('softflowd is not installed');
  const { stdout, stderr } = await run(
    SOFTFLOWD,
    ['-r', pcap, '-n', `127.0.0.1:${port}`, '-v', String(version), '-d', '-a', '-p', join(directory, `softflowd-v${version}.pid`)],
    { timeout: 30_000 },
  );
  const output = `${stdout}\n${stderr}`;
  const [packetsProcessed] = statistic(output, /Packets processed: (\d+)/);
  const [ignoredPackets] = statistic(output, /Ignored packets: (\d+)/);
  const [flowsExported, recordsExported, messagesSent, sendFailures] = statistic(output, /Flows exported: (\d+) \((\d+) records\) in (\d+) packets \((\d+) failures\)/);
  return { packetsProcessed, ignoredPackets, flowsExported, recordsExported, messagesSent, sendFailures, output };
}
