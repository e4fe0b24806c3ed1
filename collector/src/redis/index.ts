/** Redis side of the pipeline: key layout, the push script, the usage sink; see README.md. */
export { backoffDelay, type BackoffOptions, sleep, TimeoutError, withTimeout } from './backoff.js';
export { createRedisClient } from './client.js';
export {
  type AcceptedCounter,
  acceptedField,
  checkId,
  parseAcceptedField,
  parseUsageLine,
  type ParsedUsageLine,
  RedisKeys,
  usageLine,
  utcDay,
} from './keys.js';
export { LuaScript } from './lua-script.js';
export {
  MemoryMetrics,
  NO_METRICS,
  type PipelineCounter,
  type PipelineGauge,
  type PipelineHistogram,
  type PipelineMetrics,
} from './pipeline-metrics.js';
export { buildPush, type Push, type PushId } from './push.js';
export { applyPush, MAX_MINUTE_BYTES, PUSH_SCRIPT, type PushOutcome, pushScriptArguments } from './push-script.js';
export { readAcceptedTotals, type AcceptedTotals } from './accepted.js';
export { type RedisUsageSinkOptions, RedisUsageSink, type RefusalReason } from './usage-sink.js';
