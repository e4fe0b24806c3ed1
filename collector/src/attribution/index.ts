/** Subscriber attribution (pure parts); see README.md in this folder. */
export { AttributionTableError } from './attribution-table-error.js';
export {
  type AttributedFlow,
  type AttributedFlowSink,
  type AttributionTables,
  type BatchAttributionSummary,
  BatchAttributor,
  type Direction,
  subscriberAddressText,
} from './batch-attributor.js';
export {
  AttributedChunkReader,
  AttributedRecordWriter,
  type ChunkContext,
  type ChunkOutput,
  CHUNK_EXPORTER,
  CHUNK_FLOWS,
} from './attributed-records.js';
export { HolderLookup, type HolderLookupTables } from './holder-lookup.js';
export { type HeldInterval, NO_HOLDER, OwnershipTimeline } from './ownership-timeline.js';
export {
  DEFAULT_MAX_MINUTES,
  MINUTE_MS,
  type MinuteShareSink,
  minuteStartOf,
  minutesSpanned,
  splitByLargestRemainder,
  spreadOverMinutes,
} from './spread.js';
export { type SubscriberAssignment, SubscriberIndex } from './subscriber-index.js';
export { DEFAULT_TRAFFIC_CLASS, type TrafficClassConfig, TrafficClassifier } from './traffic-classifier.js';
export { type UnattributedCount, UnattributedTally } from './unattributed-tally.js';
