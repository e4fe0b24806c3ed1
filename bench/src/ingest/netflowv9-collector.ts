/**
 * node-netflowv9 as a UDP collector, for the ingestion benchmark (child process of
 * ingest-bench.ts): its own listener (`new NetFlowV9({ cb })` + `listen(port, host)`), and a
 * callback that counts the records (`o.flows.length`) and their bytes (`in_bytes`).
 * node-netflowv9 (GPLv2) is a devDependency of bench only; see bench/README.md. Like
 * netflowv9-baseline.ts, this file only drives it and copies none of its code.
 *
 *   npx tsx bench/src/ingest/netflowv9-collector.ts --port 2055 [--receive-buffer 4194304] [--count-from 127.0.0.1]
 *
 * stdout, JSON lines: {"type":"ready"} once bound, {"type":"count",...} every second and a
 * last one on SIGTERM/SIGINT, then it exits. The receive buffer is raised to what the other
 * collectors get (node-netflowv9 leaves the system default), so the comparison is of the
 * collectors, not of their socket options.
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

interface NfFlow {
  in_bytes?: number;
}
interface NfOutput {
  flows: NfFlow[];
  rinfo: { address: string };
}
interface NetFlowV9Instance {
  listen(port: number, host: string, cb: () => void): void;
  server: { setRecvBufferSize(size: number): void; getRecvBufferSize(): number };
}
type NetFlowV9Ctor = new (options: { cb: (o: NfOutput) => void }) => NetFlowV9Instance;

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    'receive-buffer': { type: 'string', default: String(32 * 1024 * 1024) },
    /** Count only records from this source address (default: all). */
    'count-from': { type: 'string' },
  },
});

const require = createRequire(import.meta.url);
const NetFlowV9 = require('node-netflowv9') as NetFlowV9Ctor;

let messages = 0;
let records = 0;
let bytes = 0;
const countFrom = values['count-from'];
const nf = new NetFlowV9({
  cb: (o) => {
    if (countFrom !== undefined && o.rinfo.address !== countFrom) return;
    messages++;
    records += o.flows.length;
    for (const f of o.flows) bytes += f.in_bytes ?? 0;
  },
});

const count = () => process.stdout.write(`${JSON.stringify({ type: 'count', messages, records, bytes })}\n`);

nf.listen(Number(values.port), values.host, () => {
  let receiveBufferBytes = 0;
  try {
    nf.server.setRecvBufferSize(Number(values['receive-buffer']));
  } catch {
    // keep the default
  }
  receiveBufferBytes = nf.server.getRecvBufferSize();
  process.stdout.write(`${JSON.stringify({ type: 'ready', receiveBufferBytes })}\n`);
  setInterval(count, 1000).unref();
});

const stop = () => {
  count();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
