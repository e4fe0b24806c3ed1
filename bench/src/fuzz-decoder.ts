/**
 * Long decoder fuzz run: mutated real conformance messages and builder-made messages,
 * from several fake exporters, into one FlowDecoder.
 *
 *   pnpm fuzz [--messages 10000000] [--seed 1] [--conformance-dir /work/shared/conformance]
 *
 * Fails (exit 1) when an exception escapes decode() or the decoder counts an
 * 'internal-error': prints the error with its stack, the offending message in hex and a
 * minimised reproduction on a fresh decoder. The mutations and the driver are shared with
 * the in-suite test: collector/src/decoder/testing/mutate.ts.
 *
 * Extra check (reported, exit 3 only with --strict-snapshot): every --snapshot-every
 * messages, the decoder's exportState() is serialised to JSON and restored into a fresh
 * decoder; a snapshot the decoder wrote must be one it can read back.
 */
import { Command, InvalidArgumentError } from 'commander';

import { FlowDecoder } from '@flowbill/collector/decoder/index';
import {
  builderCorpus,
  DEFAULT_CONFORMANCE_DIR,
  formatFailure,
  loadConformanceCorpus,
  runFuzz,
  type CorpusEntry,
} from '@flowbill/collector/decoder/testing/mutate';

function count(value: string): number {
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

const program = new Command()
  .name('fuzz-decoder')
  .description('Fuzz the flow decoder with mutated conformance and builder messages')
  .option('--messages <n>', 'messages to decode', count, 10_000_000)
  .option('--seed <n>', 'PRNG seed (same seed, same corpus = same run)', count, 1)
  .option('--conformance-dir <dir>', 'real captures (.hex, .pcap) to mutate', DEFAULT_CONFORMANCE_DIR)
  .option('--no-conformance', 'builder-made messages only')
  .option('--clean-share <x>', 'share of messages sent unmutated (templates get learned)', (v) => {
    const x = Number(v);
    if (!(x >= 0 && x < 1)) throw new InvalidArgumentError('must be in [0, 1)');
    return x;
  }, 0.2)
  .option('--progress-every <n>', 'print progress every n messages', count, 500_000)
  .option('--snapshot-every <n>', 'exportState -> restoreState round trip every n messages (0: never)', count, 1_000_000)
  .option('--strict-snapshot', 'exit 3 when a snapshot round trip fails', false)
  .option('--keep-going', 'do not stop at the first failure', false)
  .parse();

interface Opts {
  messages: number;
  seed: number;
  conformanceDir: string;
  conformance: boolean;
  cleanShare: number;
  progressEvery: number;
  snapshotEvery: number;
  strictSnapshot: boolean;
  keepGoing: boolean;
}
const opts = program.opts<Opts>();

function say(line: string): void {
  process.stdout.write(line + '\n');
}

const corpus: CorpusEntry[] = [];
if (opts.conformance) {
  const c = loadConformanceCorpus(opts.conformanceDir);
  if (c === null) say(`conformance corpus: ${opts.conformanceDir} not found, builder-made messages only`);
  else {
    say(`conformance corpus: ${c.entries.length} messages from ${c.files} files under ${c.dir}`);
    for (const p of c.problems) say(`  could not read ${p}`);
    corpus.push(...c.entries);
  }
}
const built = builderCorpus(opts.seed);
corpus.push(...built);
say(`builder corpus: ${built.length} messages; seed ${opts.seed}; ${opts.messages.toLocaleString('en-US')} messages to decode, ${Math.round(opts.cleanShare * 100)}% unmutated`);

// Snapshot round trip: what exportState() writes, restoreState() must accept.
const snapshotProblems: { at: number; error: string }[] = [];
function snapshotCheck(decoder: FlowDecoder, now: number, messages: number): void {
  const snap: unknown = JSON.parse(JSON.stringify(decoder.exportState(now)));
  try {
    new FlowDecoder({ onBatch() {} }).restoreState(snap, now);
  } catch (err) {
    const text = err instanceof Error ? err.message.replace(/\s+/g, ' ').slice(0, 400) : String(err);
    snapshotProblems.push({ at: messages, error: text });
  }
}

const mb = (bytes: number) => `${Math.round(bytes / 1048576)} MB`;
const started = Date.now();
const result = runFuzz({
  seed: opts.seed,
  messages: opts.messages,
  corpus,
  cleanShare: opts.cleanShare,
  stopOnFailure: !opts.keepGoing,
  progressEvery: opts.progressEvery,
  checkpointEvery: opts.snapshotEvery,
  onCheckpoint: opts.snapshotEvery > 0 ? snapshotCheck : undefined,
  onProgress(p) {
    const rate = (p.messages / p.elapsedMs) * 1000;
    const pct = ((100 * p.messages) / opts.messages).toFixed(0).padStart(3);
    say(`[${pct}%] ${p.messages.toLocaleString('en-US')} messages, ${Math.round(rate).toLocaleString('en-US')} msg/s, ${p.records.toLocaleString('en-US')} records, heap ${mb(p.heapUsedBytes)}, pending sets ${p.pendingSets}`);
  },
});
const seconds = (Date.now() - started) / 1000;

const t = result.totals;
const errors = Object.entries(t.errors).sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0));
const topOps = Object.entries(result.mutations).sort((a, b) => b[1] - a[1]);
say('');
say('summary');
say(`  messages ${result.messages.toLocaleString('en-US')} (${result.mutated.toLocaleString('en-US')} mutated) in ${seconds.toFixed(1)} s = ${Math.round(result.messages / seconds).toLocaleString('en-US')} msg/s`);
say(`  records decoded ${result.records.toLocaleString('en-US')} in ${result.batches.toLocaleString('en-US')} batches; templates learned ${t.templates.toLocaleString('en-US')}, options templates ${t.optionsTemplates.toLocaleString('en-US')}, redefinitions ${t.templateRedefinitions.toLocaleString('en-US')}, withdrawals ${t.templateWithdrawals}, expired ${t.templatesExpired}`);
say(`  pending: held ${t.missingTemplateSets.toLocaleString('en-US')} sets, decoded later ${t.pendingDecodedSets.toLocaleString('en-US')}, dropped ${t.pendingDroppedSets.toLocaleString('en-US')}, expired ${t.pendingExpiredSets.toLocaleString('en-US')}; restarts detected ${t.restarts.toLocaleString('en-US')}`);
say(`  counted decode errors: ${errors.map(([k, n]) => `${k} ${n?.toLocaleString('en-US')}`).join(', ')}`);
say(`  mutations applied: ${topOps.map(([k, n]) => `${k} ${n.toLocaleString('en-US')}`).join(', ')}`);
say(`  peak heap used ${mb(result.peakHeapUsedBytes)}`);
say(`  escaped exceptions: ${result.failures.filter((f) => f.kind === 'exception').length}; internal-error: ${t.errors['internal-error'] ?? 0} counted, ${result.failures.filter((f) => f.kind === 'internal-error').length} caught by the driver`);
if (opts.snapshotEvery > 0) {
  const checks = Math.floor(result.messages / opts.snapshotEvery);
  if (snapshotProblems.length === 0) say(`  snapshot round trips: ${checks} ok`);
  else {
    say(`  snapshot round trips: ${snapshotProblems.length} of ${checks} FAILED (restoreState rejected what exportState wrote); first at message ${snapshotProblems[0].at}:`);
    say(`    ${snapshotProblems[0].error}`);
  }
}

let exitCode = 0;
if (result.failures.length > 0 || (t.errors['internal-error'] ?? 0) > 0) {
  say('');
  say(`FAIL: ${result.failures.length} failure(s)`);
  for (const f of result.failures.slice(0, 5)) say(formatFailure(f) + '\n');
  exitCode = 1;
} else {
  say('OK: no exception escaped decode(), no internal-error');
}
if (exitCode === 0 && opts.strictSnapshot && snapshotProblems.length > 0) exitCode = 3;
process.exitCode = exitCode;
