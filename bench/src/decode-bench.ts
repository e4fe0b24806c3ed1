/**
 * Decoder throughput: records/s on one core for NetFlow v5, v9 (two templates) and IPFIX,
 * against node-netflowv9 decoding the very same v5 and v9 messages in the same process.
 *
 *   pnpm bench:decode [--json] [--rounds 7] [--round-ms 300] [--warmup-ms 1000] [--pool 256] [--seed 1]
 *
 * Method: each format has a pool of distinct messages built by the collector's message
 * builder from a fixed seed; template/options messages are sent once first. Before timing,
 * both decoders decode the whole pool once and every record is checked against the values
 * that went into it (exit 1 on disagreement). Then, per format: a warm-up of each decoder,
 * then `rounds` rounds alternating ours / node-netflowv9 (order swapped every round, forced
 * GC before each round), each round replaying the pool until `round-ms` has passed. The
 * median round is reported; the ratio is ours / theirs of the medians, measured in the same
 * run, so a busy machine slows both sides alike.
 *
 * What is timed per message: rewriting the header sequence number (so the replayed pool is an
 * in-order stream for both) and one decode call. Ours: FlowDecoder.decode() into its reusable
 * FlowBatch (onBatch reads one column). Theirs: nfPktDecode(), the function its UDP listener
 * calls per datagram, returning one object per flow.
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { Command, InvalidArgumentError } from 'commander';

import { FlowDecoder, FlowFlag, ipv4ToString, type FlowBatch } from '@flowbill/collector/decoder/index';

import { allPools, type MessagePool, type PoolName, type TruthRecord } from './bench-messages.js';
import { createBaseline, type Baseline, type NfDecoded } from './netflowv9-baseline.js';

const TARGET_RECORDS_PER_SEC = 10_000_000;
const TARGET_RATIO = 15;
const EXPORTER = { address: '192.0.2.10', port: 2055 };
/** receivedAt passed to decode(): the builder's export time (a listener would pass Date.now()). */
const RECEIVED_AT = 1_700_000_000_000;

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

const program = new Command()
  .name('decode-bench')
  .description('Decoder records/s on one core vs node-netflowv9 on the same messages')
  .option('--json', 'print one JSON object instead of the table', false)
  .option('--rounds <n>', 'timed rounds per decoder and format (median reported)', positiveInt, 7)
  .option('--round-ms <ms>', 'minimum duration of one round', positiveInt, 300)
  .option('--warmup-ms <ms>', 'warm-up per decoder and format', positiveInt, 1000)
  .option('--pool <n>', 'distinct messages per format', positiveInt, 256)
  .option('--seed <n>', 'seed of the message builder', positiveInt, 1)
  .option('--only <formats>', 'comma-separated subset: v5,v9,v9-ipv6-sampler,ipfix')
  .option('--no-baseline', 'skip node-netflowv9 (ours only)')
  .option('--fail-below-target', 'exit 2 when a target of the issue is missed', false)
  .parse();

interface Opts {
  json: boolean;
  rounds: number;
  roundMs: number;
  warmupMs: number;
  pool: number;
  seed: number;
  only?: string;
  baseline: boolean;
  failBelowTarget: boolean;
}
const opts = program.opts<Opts>();

// Forced GC between rounds, so one side's garbage is not collected on the other side's clock.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function log(line: string): void {
  if (!opts.json) process.stderr.write(line + '\n');
}

// ---------------------------------------------------------------------------------
// Decoders under test

interface Subject {
  /** Decode one message; returns the records it produced. */
  decode(msg: Buffer): number;
}

/** Our decoder with a consumer that touches each batch (as a real consumer would read it). */
function ours(pool: MessagePool): Subject & { sink(): number } {
  let sink = 0;
  const decoder = new FlowDecoder({
    onBatch(batch: FlowBatch) {
      sink += batch.length + batch.bytesLo[batch.length - 1];
    },
  });
  for (const m of pool.setup) decoder.decode(m, EXPORTER.address, EXPORTER.port, RECEIVED_AT);
  return {
    decode: (msg) => decoder.decode(msg, EXPORTER.address, EXPORTER.port, RECEIVED_AT),
    sink: () => sink,
  };
}

function theirs(pool: MessagePool): Subject {
  const nf = createBaseline({ address: EXPORTER.address, port: EXPORTER.port, family: 'IPv4' });
  for (const m of pool.setup) nf.decode(m);
  return {
    decode(msg) {
      const o = nf.decode(msg);
      return o === undefined ? 0 : o.flows.length;
    },
  };
}

// ---------------------------------------------------------------------------------
// Correctness check before timing

interface Row {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  protocol: number;
  bytes: number;
  packets: number;
  samplerId: number;
  samplingRate: number;
  flags: number;
}

function hex16(bytes: Uint8Array, offset: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + offset, 16).toString('hex');
}

function decodeOursForCheck(pool: MessagePool): { rows: Row[]; errors: Record<string, number> } {
  const rows: Row[] = [];
  const decoder = new FlowDecoder({
    onBatch(b) {
      for (let i = 0; i < b.length; i++) {
        const v6 = b.ipVersion[i] === 6;
        rows.push({
          src: v6 ? hex16(b.srcAddr6, i * 16) : ipv4ToString(b.srcAddr4[i]),
          dst: v6 ? hex16(b.dstAddr6, i * 16) : ipv4ToString(b.dstAddr4[i]),
          srcPort: b.srcPort[i],
          dstPort: b.dstPort[i],
          protocol: b.protocol[i],
          bytes: b.bytesHi[i] * 4294967296 + b.bytesLo[i],
          packets: b.packetsHi[i] * 4294967296 + b.packetsLo[i],
          samplerId: b.samplerId[i],
          samplingRate: b.samplingRate[i],
          flags: b.flags[i],
        });
      }
    },
  });
  for (const m of pool.setup) decoder.decode(m, EXPORTER.address, EXPORTER.port, RECEIVED_AT);
  decoder.flush();
  rows.length = 0; // options records are not flows; only the timed messages count
  for (const m of pool.messages) decoder.decode(m, EXPORTER.address, EXPORTER.port, RECEIVED_AT);
  decoder.flush();
  const errors: Record<string, number> = {};
  for (const s of decoder.stats()) for (const [k, n] of Object.entries(s.errors)) errors[k] = (errors[k] ?? 0) + (n ?? 0);
  return { rows, errors };
}

function theirRow(pool: MessagePool, f: Record<string, unknown>): TruthRecord {
  const n = (k: string) => Number(f[k]);
  const v6 = pool.name === 'v9-ipv6-sampler';
  return {
    src: String(v6 ? f.ipv6_src_addr : f.ipv4_src_addr),
    dst: String(v6 ? f.ipv6_dst_addr : f.ipv4_dst_addr),
    srcPort: pool.name === 'v5' ? n('ipv4_src_port') : n('l4_src_port'),
    dstPort: pool.name === 'v5' ? n('ipv4_dst_port') : n('l4_dst_port'),
    protocol: n('protocol'),
    bytes: n('in_bytes'),
    packets: n('in_pkts'),
    samplerId: v6 ? n('flow_sampler_id') : 0,
  };
}

function decodeTheirsForCheck(pool: MessagePool): TruthRecord[] {
  const nf: Baseline = createBaseline({ address: EXPORTER.address, port: EXPORTER.port, family: 'IPv4' });
  for (const m of pool.setup) nf.decode(m);
  const out: TruthRecord[] = [];
  for (const m of pool.messages) {
    const o: NfDecoded | undefined = nf.decode(m);
    for (const f of o?.flows ?? []) out.push(theirRow(pool, f));
  }
  nf.close();
  return out;
}

const CHECKED_FIELDS = ['src', 'dst', 'srcPort', 'dstPort', 'protocol', 'bytes', 'packets', 'samplerId'] as const;

/** First disagreement between decoded rows and the builder's values, or null. */
function firstMismatch(rows: TruthRecord[], truth: TruthRecord[]): string | null {
  if (rows.length !== truth.length) return `decoded ${rows.length} records, the messages hold ${truth.length}`;
  for (let i = 0; i < truth.length; i++) {
    for (const k of CHECKED_FIELDS) {
      if (rows[i][k] !== truth[i][k]) return `record ${i}: ${k} = ${JSON.stringify(rows[i][k])}, expected ${JSON.stringify(truth[i][k])}`;
    }
  }
  return null;
}

function check(pool: MessagePool, withBaseline: boolean): void {
  const problems: string[] = [];
  const o = decodeOursForCheck(pool);
  const mine = firstMismatch(o.rows, pool.truth);
  if (mine) problems.push(`FlowDecoder: ${mine}`);
  if (Object.keys(o.errors).length > 0) problems.push(`FlowDecoder counted errors: ${JSON.stringify(o.errors)}`);
  if (pool.name === 'v9-ipv6-sampler') {
    const bad = o.rows.findIndex((r) => r.samplingRate !== (r.samplerId === 1 ? 1000 : 4000) || (r.flags & FlowFlag.RateUnknown) !== 0);
    if (bad >= 0) problems.push(`FlowDecoder: record ${bad} sampler ${o.rows[bad].samplerId} has rate ${o.rows[bad].samplingRate}`);
  }
  if (withBaseline) {
    const t = decodeTheirsForCheck(pool);
    const theirsBad = firstMismatch(t, pool.truth);
    if (theirsBad) problems.push(`node-netflowv9: ${theirsBad}`);
    if (!mine && !theirsBad) log(`  check ${pool.name}: both decoders agree on all ${t.length} records (${CHECKED_FIELDS.join(', ')})`);
  } else if (!mine) log(`  check ${pool.name}: FlowDecoder matches all ${o.rows.length} records`);
  if (problems.length > 0) {
    process.stderr.write(`WARNING: ${pool.name}: decoders disagree with the messages, the comparison would be meaningless:\n  ${problems.join('\n  ')}\n`);
    process.exit(1);
  }
}

// ---------------------------------------------------------------------------------
// Timing

/** Replays the pool as an in-order stream: keeps the header sequence numbers moving. */
class Stream {
  private seq = 0;
  constructor(private readonly pool: MessagePool) {
    this.seq = pool.sequenceUnit === 'messages' ? pool.setup.length : 0;
  }
  run(subject: Subject, minMs: number): { records: number; seconds: number } {
    const { messages, recordsPerMessage, sequenceOffset } = this.pool;
    const perMessage = this.pool.sequenceUnit === 'messages';
    const minNs = BigInt(Math.round(minMs * 1e6));
    let records = 0;
    let seq = this.seq;
    const t0 = process.hrtime.bigint();
    let elapsed = 0n;
    do {
      for (let m = 0; m < messages.length; m++) {
        const msg = messages[m];
        msg.writeUInt32BE(seq >>> 0, sequenceOffset);
        seq += perMessage ? 1 : recordsPerMessage[m];
        records += subject.decode(msg);
      }
      elapsed = process.hrtime.bigint() - t0;
    } while (elapsed < minNs);
    this.seq = seq;
    return { records, seconds: Number(elapsed) / 1e9 };
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

interface SideResult {
  median: number;
  rounds: number[];
}

interface FormatResult {
  format: PoolName;
  label: string;
  recordsPerMessage: number;
  messageBytes: number;
  ours: SideResult;
  nodeNetflowv9: SideResult | null;
  ratio: number | null;
}

function bench(pool: MessagePool, withBaseline: boolean): FormatResult {
  const subjects: { name: 'ours' | 'theirs'; subject: Subject; stream: Stream; rounds: number[] }[] = [
    { name: 'ours', subject: ours(pool), stream: new Stream(pool), rounds: [] },
  ];
  if (withBaseline) subjects.push({ name: 'theirs', subject: theirs(pool), stream: new Stream(pool), rounds: [] });
  for (const s of subjects) {
    gc();
    s.stream.run(s.subject, opts.warmupMs);
  }
  for (let r = 0; r < opts.rounds; r++) {
    const order = r % 2 === 0 ? subjects : [...subjects].reverse();
    for (const s of order) {
      gc();
      const { records, seconds } = s.stream.run(s.subject, opts.roundMs);
      s.rounds.push(records / seconds);
    }
  }
  const side = (rounds: number[]): SideResult => ({ median: median(rounds), rounds });
  const o = side(subjects[0].rounds);
  const t = withBaseline ? side(subjects[1].rounds) : null;
  return {
    format: pool.name,
    label: pool.label,
    recordsPerMessage: pool.totalRecords / pool.messages.length,
    messageBytes: pool.messages.reduce((a, m) => a + m.length, 0) / pool.messages.length,
    ours: o,
    nodeNetflowv9: t,
    ratio: t ? o.median / t.median : null,
  };
}

// ---------------------------------------------------------------------------------

const BASELINE_FORMATS: PoolName[] = ['v5', 'v9', 'v9-ipv6-sampler']; // node-netflowv9 has no IPFIX
const only = opts.only ? new Set(opts.only.split(',').map((s) => s.trim())) : null;
const pools = allPools({ seed: opts.seed, size: opts.pool }).filter((p) => !only || only.has(p.name));
if (pools.length === 0) {
  process.stderr.write(`--only ${opts.only}: no such format (v5, v9, v9-ipv6-sampler, ipfix)\n`);
  process.exit(64);
}

const machine = {
  nproc: availableParallelism(),
  cpu: cpus()[0]?.model ?? 'unknown',
  node: process.version,
  date: new Date().toISOString(),
  loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
};
log(`decode-bench: node ${machine.node}, ${machine.nproc} cpus (${machine.cpu}), load ${machine.loadavg.join(' ')}`);
log(`pool ${opts.pool} messages/format, seed ${opts.seed}, warm-up ${opts.warmupMs} ms, ${opts.rounds} rounds x >= ${opts.roundMs} ms, median`);

for (const p of pools) check(p, opts.baseline && BASELINE_FORMATS.includes(p.name));

const results: FormatResult[] = [];
for (const p of pools) {
  log(`  timing ${p.name} ...`);
  results.push(bench(p, opts.baseline && BASELINE_FORMATS.includes(p.name)));
}

const misses: string[] = [];
for (const r of results) {
  if ((r.format === 'v9' || r.format === 'v9-ipv6-sampler' || r.format === 'ipfix') && r.ours.median < TARGET_RECORDS_PER_SEC) {
    misses.push(`${r.format}: ${fmtRate(r.ours.median)} records/s < ${fmtRate(TARGET_RECORDS_PER_SEC)}`);
  }
  if (r.ratio !== null && r.ratio < TARGET_RATIO) misses.push(`${r.format}: ${r.ratio.toFixed(1)}x node-netflowv9 < ${TARGET_RATIO}x`);
}

function fmtRate(x: number): string {
  return x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${(x / 1e3).toFixed(0)}k`;
}

if (opts.json) {
  process.stdout.write(
    JSON.stringify(
      {
        machine,
        config: { pool: opts.pool, seed: opts.seed, rounds: opts.rounds, roundMs: opts.roundMs, warmupMs: opts.warmupMs },
        targets: { recordsPerSec: TARGET_RECORDS_PER_SEC, ratioVsNodeNetflowv9: TARGET_RATIO },
        results,
        targetsMet: misses.length === 0,
        misses,
      },
      null,
      2,
    ) + '\n',
  );
} else {
  const header = ['format', 'records/msg', 'ours records/s', 'node-netflowv9 records/s', 'ratio'];
  const lines = results.map((r) => [
    r.format,
    r.recordsPerMessage.toFixed(1),
    fmtRate(r.ours.median),
    r.nodeNetflowv9 ? fmtRate(r.nodeNetflowv9.median) : r.format === 'ipfix' ? 'n/a (no IPFIX)' : 'skipped',
    r.ratio !== null ? `${r.ratio.toFixed(1)}x` : 'n/a',
  ]);
  const widths = header.map((h, k) => Math.max(h.length, ...lines.map((l) => l[k].length)));
  const row = (cells: string[]) => `| ${cells.map((c, k) => c.padEnd(widths[k])).join(' | ')} |`;
  const out = [row(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(row)];
  process.stdout.write(out.join('\n') + '\n');
  for (const r of results) {
    const spread = (s: SideResult) => `${fmtRate(Math.min(...s.rounds))}..${fmtRate(Math.max(...s.rounds))}`;
    log(`  ${r.format}: ${r.label}, ${Math.round(r.messageBytes)} bytes/msg; rounds ours ${spread(r.ours)}${r.nodeNetflowv9 ? `, node-netflowv9 ${spread(r.nodeNetflowv9)}` : ''}`);
  }
  log(misses.length === 0 ? `targets met: >= ${fmtRate(TARGET_RECORDS_PER_SEC)} records/s on v9/IPFIX, >= ${TARGET_RATIO}x node-netflowv9` : `TARGETS MISSED:\n  ${misses.join('\n  ')}`);
}
if (opts.failBelowTarget && misses.length > 0) process.exitCode = 2;
