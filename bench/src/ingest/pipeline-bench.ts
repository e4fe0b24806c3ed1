/**
 * The collector's per-record work without UDP or Redis: the same messages the ingestion
 * benchmark sends, fed straight into FlowDecoder -> BatchAttributor -> MinuteAggregator,
 * with the aggregator drained and turned into pushes (buildPush, as RedisUsageSink does)
 * every `--push-ms` of message time. Tells how much of a core the pipeline itself needs
 * at a given rate, apart from the socket path.
 *
 *   npx tsx bench/src/ingest/pipeline-bench.ts [--seconds 5] [--subscribers 10000] [--push-ms 200] [--rate 40000]
 */
import { parseArgs } from 'node:util';
import { MinuteAggregator } from '@flowbill/collector/aggregation/index';
import { AttributedChunkReader, type AttributedFlow, AttributedRecordWriter, BatchAttributor, HolderLookup, SubscriberIndex, TrafficClassifier, UnattributedTally } from '@flowbill/collector/attribution/index';
import { FlowDecoder } from '@flowbill/collector/decoder/index';
import { buildPush } from '@flowbill/collector/redis/push';
import { benchSubscribers, buildTraffic, RECORDS_PER_MESSAGE, V9_SEQUENCE_OFFSET, V9_UNIX_SECS_OFFSET } from './traffic.js';

export interface PipelineBenchResult {
  messages: number;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  /** Records per second of this process's CPU time (user + system): robust to other jobs on the machine. */
  recordsPerCpuSecond: number;
  attributions: number;
  entriesPushed: number;
  pushes: number;
}

/**
 * Run the pipeline flat out for `seconds`. `rate` (messages/s) only sets how many messages
 * make one push interval (rate * pushMs / 1000), i.e. how many records a push aggregates.
 */
/** How far records go: decode only, + attribution (sink does nothing), + aggregation, + pushes built. */
export type PipelineStage = 'decode' | 'attribute' | 'aggregate' | 'push';

export function runPipelineBench(options: { seconds: number; subscribers: number; pushMs: number; rate: number; stage?: PipelineStage; viaChunks?: boolean; direct?: boolean }): PipelineBenchResult {
  const stage = options.stage ?? 'push';
  const now = Date.now();
  const index = SubscriberIndex.build(benchSubscribers(options.subscribers).map((s) => ({ subscriberId: s.id, prefix: s.address, validFrom: now - 86_400_000, validTo: null })));
  const attributor = new BatchAttributor({ subscribers: index, classifier: TrafficClassifier.build({ classes: {} }) });
  const unattributed = new UnattributedTally();
  let attributions = 0;
  // --via-chunks: the collector's receive-thread split in one thread: attribute into
  // attributed-record chunks (AttributedRecordWriter), copy each into a buffer as the ring
  // would, read them back (AttributedChunkReader) into the aggregator.
  const ring = new Uint8Array(1 << 20);
  const reader = new AttributedChunkReader(ring);
  const generations = { classNames: TrafficClassifier.build({ classes: {} }).classNames, exporter: () => {}, indexOf: () => index };
  const sink = stage === 'attribute' ? () => {} : (flow: Readonly<AttributedFlow>) => aggregator.add(flow);
  const recordSink = { addHolderRecord: () => {}, add: () => {} };
  const writer = new AttributedRecordWriter({
    classifier: TrafficClassifier.build({ classes: {} }),
    lookup: HolderLookup.fromTables(index.lookupTables()),
    generation: 1,
    exporterKey: () => '127.0.0.1:40000',
    output: (chunk) => {
      ring.set(chunk, 0);
      attributions += reader.read(0, chunk.length, generations, recordSink);
      return true;
    },
  });
  const decoder = new FlowDecoder({
    onBatch: (batch) => {
      if (stage === 'decode') return;
      if (options.viaChunks) {
        writer.attribute(batch, unattributed);
        writer.flush();
        return;
      }
      attributions += options.direct && stage !== 'attribute' ? attributor.attributeTo(batch, aggregator, unattributed).attributions : attributor.attribute(batch, sink, unattributed).attributions;
    },
  });
  const aggregator = new MinuteAggregator({ exporterLabel: (id) => decoder.exporter(id).key });
  if (stage !== 'attribute') Object.assign(recordSink, { addHolderRecord: aggregator.addHolderRecord.bind(aggregator), add: aggregator.add.bind(aggregator) });
  const traffic = buildTraffic({ subscribers: options.subscribers });
  const unixSecs = Math.floor(now / 1000);
  traffic.template.writeUInt32BE(unixSecs, V9_UNIX_SECS_OFFSET);
  decoder.decode(traffic.template, '127.0.0.1', 40000, now);
  const perPush = Math.max(1, Math.round((options.rate * options.pushMs) / 1000));
  let seq = 1;
  let messages = 0;
  let entriesPushed = 0;
  let pushes = 0;
  const push = () => {
    decoder.flush();
    const entries = aggregator.drain();
    if (entries.length === 0 || stage !== 'push') return;
    for (let k = 0; k < entries.length; k += 50_000) buildPush({ collectorId: 'bench', runId: 'bench', seq: pushes + 1 }, entries.slice(k, k + 50_000));
    entriesPushed += entries.length;
    pushes++;
  };
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  while (performance.now() < deadline) {
    for (let k = 0; k < perPush; k++) {
      const msg = traffic.messages[messages % traffic.messages.length];
      msg.writeUInt32BE(unixSecs, V9_UNIX_SECS_OFFSET);
      msg.writeUInt32BE(seq++ >>> 0, V9_SEQUENCE_OFFSET);
      decoder.decode(msg, '127.0.0.1', 40000, now);
      messages++;
    }
    push();
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const records = messages * RECORDS_PER_MESSAGE;
  return { messages, records, seconds, recordsPerSecond: records / seconds, recordsPerCpuSecond: records / cpuSeconds, attributions, entriesPushed, pushes };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '5' },
      subscribers: { type: 'string', default: '10000' },
      'push-ms': { type: 'string', default: '200' },
      rate: { type: 'string', default: '40000' },
      stage: { type: 'string', default: 'push' },
      'via-chunks': { type: 'boolean', default: false },
      direct: { type: 'boolean', default: false },
    },
  });
  const r = runPipelineBench({ seconds: Number(values.seconds), subscribers: Number(values.subscribers), pushMs: Number(values['push-ms']), rate: Number(values.rate), stage: values.stage as PipelineStage, viaChunks: values['via-chunks'], direct: values.direct });
  console.log(
    `${r.messages} messages, ${r.records} records in ${r.seconds.toFixed(2)} s: ${(r.recordsPerSecond / 1e6).toFixed(2)}M records/s wall, ` +
      `${(r.recordsPerCpuSecond / 1e6).toFixed(2)}M records per CPU-second ` +
      `(${(r.recordsPerSecond / RECORDS_PER_MESSAGE / 1000).toFixed(1)}k messages/s); ${r.attributions} attributions, ${r.pushes} pushes of ${r.entriesPushed} entries`,
  );
}
