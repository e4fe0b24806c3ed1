/** In-process minute aggregation (pure); see minute-aggregator.ts. */
export {
  type AggregationAnomalies,
  DEFAULT_AGGREGATOR_MAX_KEYS,
  MinuteAggregator,
  type MinuteAggregatorOptions,
  type UsageRecord,
} from './minute-aggregator.js';
export { hasSeparator, mergeInto, type UsageEntry, type UsageKey, usageKeyString, usageKeyText } from './usage-entry.js';
