/**
 * Demo exporter: sends synthetic NetFlow v9 (or IPFIX) for a set of subscriber addresses to
 * a collector, so a freshly started local stack shows usage at once. It behaves like a small
 * router: templates first and again every `templateEvery` messages, sequence numbers,
 * sysUptime, flows of realistic sizes in both directions.
 */
import dgram from 'node:dgram';
import { Command, InvalidArgumentError } from 'commander';
import { ipfixMessage, seededRandom, v9Message, type FieldSpec, type FieldValue } from '../decoder/testing/message-builder.js';

/** IPv4 and IPv6 templates with 64-bit counters and absolute millisecond times. */
const V4_FIELDS: FieldSpec[] = [
  { id: 8, length: 4 }, { id: 12, length: 4 }, { id: 7, length: 2 }, { id: 11, length: 2 }, { id: 4, length: 1 },
  { id: 10, length: 4 }, { id: 14, length: 4 }, { id: 1, length: 8 }, { id: 2, length: 8 },
  { id: 152, length: 8 }, { id: 153, length: 8 },
];
const V6_FIELDS: FieldSpec[] = [
  { id: 27, length: 16 }, { id: 28, length: 16 }, { id: 7, length: 2 }, { id: 11, length: 2 }, { id: 4, length: 1 },
  { id: 10, length: 4 }, { id: 14, length: 4 }, { id: 1, length: 8 }, { id: 2, length: 8 },
  { id: 152, length: 8 }, { id: 153, length: 8 },
];

export interface DemoExporterOptions {
  host: string;
  port: number;
  version: 9 | 10;
  /** Subscriber-side addresses to generate traffic for. */
  subscribers: readonly string[];
  /** Remote addresses (internet, IX...). */
  remotes: readonly string[];
  messagesPerSecond: number;
  recordsPerMessage: number;
  seed: number;
  /** Stop after this many messages (0 = run until stopped). */
  maxMessages: number;
  templateEvery: number;
}

export class DemoExporter {
  private socket: dgram.Socket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private sequence = 0;
  private sent = 0;
  private readonly bootMs = Date.now() - 3_600_000;
  private readonly rand: () => number;
  totals = { messages: 0, records: 0, bytes: 0n, packets: 0n };

  constructor(private readonly o: DemoExporterOptions) {
    this.rand = seededRandom(o.seed);
  }

  start(onDone?: () => void): void {
    this.socket = dgram.createSocket(this.o.host.includes(':') ? 'udp6' : 'udp4');
    const intervalMs = 100;
    const perTick = Math.max(1, Math.round((this.o.messagesPerSecond * intervalMs) / 1000));
    this.timer = setInterval(() => {
      for (let k = 0; k < perTick; k++) {
        if (this.o.maxMessages > 0 && this.sent >= this.o.maxMessages) {
          this.stop().then(() => onDone?.());
          return;
        }
        this.socket!.send(this.nextMessage(), this.o.port, this.o.host);
        this.sent++;
      }
    }, intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const s = this.socket;
    this.socket = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  /** One export message: templates every `templateEvery` messages, then data. */
  nextMessage(): Uint8Array {
    const now = Date.now();
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(this.rand() * xs.length)];
    const v4: FieldValue[][] = [];
    const v6: FieldValue[][] = [];
    for (let r = 0; r < this.o.recordsPerMessage; r++) {
      const subscriber = pick(this.o.subscribers);
      const remote = pick(this.o.remotes.filter((a) => a.includes(':') === subscriber.includes(':')));
      if (remote === undefined) continue;
      const download = this.rand() < 0.8; // most ISP traffic is download
      const packets = 1 + Math.floor(this.rand() * 200);
      const bytes = packets * (download ? 1200 + Math.floor(this.rand() * 300) : 60 + Math.floor(this.rand() * 200));
      const end = now - Math.floor(this.rand() * 2000);
      const start = end - Math.floor(this.rand() * 90_000);
      const [src, dst] = download ? [remote, subscriber] : [subscriber, remote];
      const row: FieldValue[] = [src, dst, download ? 443 : 40000 + Math.floor(this.rand() * 20000), download ? 40000 + Math.floor(this.rand() * 20000) : 443,
        this.rand() < 0.8 ? 6 : 17, download ? 1 : 2, download ? 2 : 1, BigInt(bytes), BigInt(packets), BigInt(start), BigInt(end)];
      (subscriber.includes(':') ? v6 : v4).push(row);
      this.totals.records++;
      this.totals.bytes += BigInt(bytes);
      this.totals.packets += BigInt(packets);
    }
    const sets = [];
    if (this.totals.messages % this.o.templateEvery === 0) {
      sets.push({ kind: 'template' as const, templates: [{ id: 300, fields: V4_FIELDS }, { id: 301, fields: V6_FIELDS }] });
    }
    if (v4.length > 0) sets.push({ kind: 'data' as const, templateId: 300, fields: V4_FIELDS, records: v4 });
    if (v6.length > 0) sets.push({ kind: 'data' as const, templateId: 301, fields: V6_FIELDS, records: v6 });
    const message =
      this.o.version === 9
        ? v9Message({ sysUptime: (now - this.bootMs) >>> 0, unixSecs: Math.floor(now / 1000), sequence: this.totals.messages, sourceId: 1 }, sets)
        : ipfixMessage({ exportTime: Math.floor(now / 1000), sequence: this.sequence, observationDomain: 1 }, sets);
    this.sequence += v4.length + v6.length;
    this.totals.messages++;
    return message;
  }
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${v}"`);
  return n;
}

/** CLI: `tsx collector/src/demo/demo-exporter.ts --subscribers 100.64.0.1,2001:db8:1::1 ...` */
export async function main(argv: string[]): Promise<void> {
  const program = new Command('demo-exporter')
    .option('--host <host>', 'collector address', '127.0.0.1')
    .option('--port <port>', 'collector UDP port', positiveInt, 2055)
    .option('--ipfix', 'send IPFIX instead of NetFlow v9')
    .requiredOption('--subscribers <list>', 'comma-separated subscriber addresses')
    .option('--remotes <list>', 'comma-separated remote addresses', '198.51.100.10,203.0.113.20,192.0.2.30,2001:db8:ffff::10')
    .option('--rate <messages/s>', 'messages per second', positiveInt, 20)
    .option('--records <n>', 'records per message', positiveInt, 20)
    .option('--seed <n>', 'random seed', positiveInt, 1)
    .option('--count <n>', 'stop after this many messages (0 = forever)', positiveInt, 0)
    .parse(argv, { from: 'user' });
  const o = program.opts<{ host: string; port: number; ipfix?: boolean; subscribers: string; remotes: string; rate: number; records: number; seed: number; count: number }>();
  const exporter = new DemoExporter({
    host: o.host,
    port: o.port,
    version: o.ipfix ? 10 : 9,
    subscribers: o.subscribers.split(',').map((s) => s.trim()).filter(Boolean),
    remotes: o.remotes.split(',').map((s) => s.trim()).filter(Boolean),
    messagesPerSecond: o.rate,
    recordsPerMessage: o.records,
    seed: o.seed,
    maxMessages: o.count,
    templateEvery: 20,
  });
  const stop = () => void exporter.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await new Promise<void>((resolve) => exporter.start(resolve));
  console.log(JSON.stringify({ sent: { ...exporter.totals, bytes: String(exporter.totals.bytes), packets: String(exporter.totals.packets) } }));
}

if (import.meta.url === `file://${process.argv[1]}`) await main(process.argv.slice(2));
