/**
 * The front of the collector's pipeline in the pipeline thread (pipeline-worker.ts,
 * COLLECTOR_PIPELINE_THREAD=true): each allowed datagram is decoded (FlowDecoder) and
 * attributed (AttributedRecordWriter over a HolderLookup), and the attributed records go to
 * the main thread through a ring as chunks (attribution/attributed-records.ts). The main
 * thread is left with aggregation and Redis.
 *
 * The subscriber index is built on the main thread (a build of 100,000 rows takes about a
 * second): it posts each index's lookup tables, which this side wraps in O(1)
 * (replaceIndex). Also here because the decoder is: template state (restored from and saved
 * to COLLECTOR_STATE_FILE, every minute and at stop), template expiry (every minute), and
 * the decoder's per-exporter counters and the unattributed tally, posted to the main thread
 * as snapshots for /metrics (`snapshot()`).
 */
import { AttributedRecordWriter } from '../../attribution/attributed-records.js';
import { HolderLookup, type HolderLookupTables } from '../../attribution/holder-lookup.js';
import { TrafficClassifier } from '../../attribution/traffic-classifier.js';
import { UnattributedTally } from '../../attribution/unattributed-tally.js';
import { FlowDecoder } from '../../decoder/index.js';
import { restoreTemplateState, saveTemplateState } from '../template-state-file.js';
import type { DatagramRing } from './datagram-ring.js';
import type { PipelineConfig, PipelineSnapshot } from './protocol.js';

const NO_ADDRESS = new Uint8Array(16);
const MINUTE_MS = 60_000;

export class ReceivePipeline {
  private readonly decoder: FlowDecoder;
  private readonly writer: AttributedRecordWriter;
  private readonly unattributed = new UnattributedTally();
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly config: PipelineConfig,
    ring: DatagramRing,
    private readonly log: (message: string) => void,
  ) {
    this.decoder = new FlowDecoder({
      onBatch: (batch) => this.writer.attribute(batch, this.unattributed),
      samplingOverrides: config.samplingOverrides,
      templateIdleTimeoutMs: config.templateIdleTimeoutMs,
    });
    this.writer = new AttributedRecordWriter({
      classifier: TrafficClassifier.build({ classes: config.classes, defaultClass: config.defaultClass }),
      lookup: HolderLookup.fromTables(config.tables),
      generation: config.generation,
      exporterKey: (id) => this.decoder.exporter(id).key,
      // A refused chunk (ring full) is counted by the ring and by the writer.
      output: (chunk) => ring.tryWrite(chunk, 0, 4, NO_ADDRESS, Date.now()),
    });
  }

  /** Restore template state, start the expiry and save timers. */
  start(): void {
    this.restoreTemplates();
    const expire = setInterval(() => this.decoder.expire(Date.now()), MINUTE_MS);
    const save = setInterval(() => this.saveTemplates(), MINUTE_MS);
    for (const t of [expire, save]) t.unref();
    this.timers = [expire, save];
  }

  /** Decode and attribute one datagram; its records are in the ring when this returns. */
  onDatagram(message: Uint8Array, address: string, port: number, receivedAt: number): void {
    this.decoder.decode(message, address, port, receivedAt);
    this.decoder.flush();
    this.writer.flush();
  }

  /** Attribute with the index of `generation` from the next datagram on. */
  replaceIndex(generation: number, tables: HolderLookupTables): void {
    this.writer.replaceLookup(HolderLookup.fromTables(tables), generation);
  }

  snapshot(): PipelineSnapshot {
    return {
      decoder: this.decoder.stats(),
      pendingSets: this.decoder.pendingSets(),
      unattributed: [...this.unattributed.entries()].map(([id, u]) => [this.decoder.exporter(id).key, u.records, u.bytes.toString(), u.packets.toString()]),
      records: this.writer.counters.records,
      droppedRecords: this.writer.counters.droppedRecords,
    };
  }

  /** Everything decoded is in the ring; template state saved. */
  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.decoder.flush();
    this.writer.flush();
    this.saveTemplates();
  }

  private restoreTemplates(): void {
    restoreTemplateState(this.decoder, this.config.stateFile, this.log);
  }

  private saveTemplates(): void {
    saveTemplateState(this.decoder, this.config.stateFile, this.log);
  }
}
