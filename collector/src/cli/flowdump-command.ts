/**
 * flowdump: decode NetFlow/IPFIX from pcap or hex files and print the records as JSON.
 * The CLI entry is flowdump.ts; this module holds the logic so tests can drive it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { FlowDecoder, bytesOf, packetsOf, totalStats, type FlowBatch } from '../decoder/index.js';
import { PcapFormatError, streamPcapFile, type SkipReason } from '../pcap/index.js';
import { flowRecordJson } from './flow-json.js';

export interface FlowdumpIo {
  out(text: string): void;
  err(text: string): void;
}

interface Totals {
  records: number;
  bytes: bigint;
  packets: bigint;
  scaledBytes: bigint;
  scaledPackets: bigint;
}

/** Frame problems in a capture that mean export data was lost before it reached us. */
const LOSSY_SKIPS: ReadonlySet<SkipReason> = new Set<SkipReason>(['truncated', 'malformed', 'fragment']);

function parseRate(value: string, previous: Record<string, number> = {}): Record<string, number> {
  const eq = value.lastIndexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected EXPORTER=RATE (e.g. 192.0.2.1=1000), got "${value}"`);
  const rate = Number(value.slice(eq + 1));
  if (!Number.isInteger(rate) || rate < 1) throw new InvalidArgumentError(`rate must be an integer >= 1 in "${value}"`);
  return { ...previous, [value.slice(0, eq)]: rate };
}

function parsePositive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return n;
}

function parseExporter(value: string): { address: string; port: number } {
  const m = /^\[?([0-9a-fA-F:.]+)\]?:(\d{1,5})$/.exec(value);
  if (!m || Number(m[2]) > 65535) throw new InvalidArgumentError(`expected ADDRESS:PORT (or [v6]:PORT), got "${value}"`);
  return { address: m[1], port: Number(m[2]) };
}

/** Runs flowdump; resolves to the process exit code. */
export async function runFlowdump(argv: string[], io: FlowdumpIo): Promise<number> {
  const program = new Command('flowdump')
    .description('Decode NetFlow v5/v9 and IPFIX from pcap files (UDP payloads) or hex files (one message per line).')
    .argument('<files...>', 'pcap or hex files, decoded in order with template state carried across them')
    .option('--summary', 'print one JSON object with totals instead of one object per record')
    .option('--stats', 'print per-exporter decoder counters (JSON) to stderr at the end')
    .option('--sampling-override <exporter=rate>', 'sampling rate for an exporter ("address", "address:port"), repeatable', parseRate)
    .option('--template-timeout <seconds>', 'forget templates idle for this long', parsePositive)
    .option('--hex-exporter <address:port>', 'exporter that hex-file messages are attributed to', parseExporter, { address: '0.0.0.0', port: 0 })
    .option('--state-in <file>', 'restore template state saved by --state-out before decoding')
    .option('--state-out <file>', 'save template state after decoding')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });

  try {
    program.parse(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    throw e;
  }
  const opts = program.opts<{
    summary?: boolean;
    stats?: boolean;
    samplingOverride?: Record<string, number>;
    templateTimeout?: number;
    hexExporter: { address: string; port: number };
    stateIn?: string;
    stateOut?: string;
  }>();
  const files = program.args;

  const totals: Totals = { records: 0, bytes: 0n, packets: 0n, scaledBytes: 0n, scaledPackets: 0n };
  const extraErrors: Record<string, number> = {};
  const countExtra = (reason: string, n = 1) => (extraErrors[reason] = (extraErrors[reason] ?? 0) + n);
  let exitCode = 0;

  let decoder: FlowDecoder;
  const onBatch = (b: FlowBatch) => {
    let text = '';
    for (let i = 0; i < b.length; i++) {
      const bytes = bytesOf(b, i);
      const packets = packetsOf(b, i);
      const rate = BigInt(b.samplingRate[i]);
      totals.records++;
      totals.bytes += bytes;
      totals.packets += packets;
      totals.scaledBytes += bytes * rate;
      totals.scaledPackets += packets * rate;
      if (!opts.summary) text += flowRecordJson(b, i, decoder.exporter(b.exporterId[i])) + '\n';
    }
    if (text) io.out(text);
  };
  decoder = new FlowDecoder({
    onBatch,
    samplingOverrides: opts.samplingOverride,
    templateIdleTimeoutMs: opts.templateTimeout !== undefined ? opts.templateTimeout * 1000 : undefined,
  });

  if (opts.stateIn) {
    try {
      const r = decoder.restoreState(JSON.parse(readFileSync(opts.stateIn, 'utf8')));
      io.err(`flowdump: restored ${r.templates} templates of ${r.exporters} exporters from ${opts.stateIn}\n`);
    } catch (e) {
      io.err(`flowdump: cannot restore state from ${opts.stateIn}: ${(e as Error).message}\n`);
      return 2;
    }
  }

  let lastTime = 0;
  for (const file of files) {
    let content: Buffer;
    try {
      content = readFileSync(file);
    } catch (e) {
      io.err(`flowdump: ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}\n`);
      countExtra('file-unreadable');
      exitCode = 1;
      continue;
    }
    if (looksLikeHex(content)) {
      const lines = content.toString('utf8').split(/\r?\n/);
      lines.forEach((line, k) => {
        const text = line.trim();
        if (text === '' || text.startsWith('#')) return;
        if (!/^([0-9a-fA-F]{2})+$/.test(text)) {
          io.err(`flowdump: ${file}:${k + 1}: not an even-length hex string, line skipped\n`);
          countExtra('hex-invalid-line');
          return;
        }
        lastTime = Date.now();
        decoder.decode(new Uint8Array(Buffer.from(text, 'hex')), opts.hexExporter.address, opts.hexExporter.port, lastTime);
      });
      continue;
    }
    try {
      const stream = streamPcapFile(file, {
        onSkip: (s) => {
          if (LOSSY_SKIPS.has(s.reason)) {
            countExtra(`pcap-${s.reason}`);
            io.err(`flowdump: ${file}: frame ${s.frameNumber}: ${s.reason}: ${s.detail}\n`);
          }
        },
      });
      for await (const d of stream) {
        lastTime = d.timestampMs;
        decoder.decode(d.payload, d.srcAddress, d.srcPort, d.timestampMs);
      }
      if (stream.stats.damage) {
        countExtra('pcap-file-truncated');
        io.err(`flowdump: ${file}: ${stream.stats.damage.message} (frame ${stream.stats.damage.frameNumber}); decoded what came before\n`);
      }
    } catch (e) {
      io.err(`flowdump: ${file}: ${e instanceof PcapFormatError ? e.message : `cannot read: ${(e as Error).message}`}\n`);
      countExtra('file-unreadable');
      exitCode = 1;
    }
  }
  decoder.flush();

  // Data still waiting for a template at the end was never decoded: say so.
  const unresolved = decoder.pendingSets();
  if (unresolved > 0) countExtra('missing-template', unresolved);

  const stats = decoder.stats();
  const total = totalStats(stats);
  const errors: Record<string, number> = { ...total.errors, ...extraErrors };
  if (total.pendingDroppedSets > 0) errors['pending-dropped'] = total.pendingDroppedSets;
  if (total.pendingExpiredSets > 0) errors['pending-expired'] = total.pendingExpiredSets;
  for (const s of stats) {
    for (const [reason, n] of Object.entries(s.errors)) io.err(`flowdump: exporter ${s.exporter}: ${n} x ${reason}\n`);
    if (s.rateUnknownRecords > 0) io.err(`flowdump: exporter ${s.exporter}: ${s.rateUnknownRecords} records reference a sampler with unknown rate (raw counters kept, rate 1)\n`);
  }
  if (unresolved > 0) io.err(`flowdump: ${unresolved} data sets never found their template and were not decoded\n`);
  if (opts.stats) io.err(JSON.stringify(stats, null, 2) + '\n');

  if (opts.summary) {
    io.out(
      `{"records":${totals.records},"bytes":${totals.bytes},"packets":${totals.packets},` +
        `"scaledBytes":${totals.scaledBytes},"scaledPackets":${totals.scaledPackets},"errors":${JSON.stringify(errors)}}\n`,
    );
  }
  if (opts.stateOut) writeFileSync(opts.stateOut, JSON.stringify(decoder.exportState(lastTime || Date.now())) + '\n');
  return exitCode;
}

/**
 * Capture files are recognised by their magic number (classic pcap in both byte orders and
 * resolutions, pcapng, gzip); the pcap reader explains the ones it cannot read. Anything
 * else is taken as hex text, one message per line.
 */
function looksLikeHex(content: Buffer): boolean {
  if (content.length < 4) return true;
  const magic = content.readUInt32BE(0);
  const binary = [0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a];
  return !binary.includes(magic) && !(content[0] === 0x1f && content[1] === 0x8b);
}
