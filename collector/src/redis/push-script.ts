/**
 * The push script: applies a Push atomically and at most once.
 *
 * Idempotence: a sink delivers its pushes strictly one at a time, in seq order, and
 * resends the head push until acknowledged. So "applied" is one number per sink run,
 * the highest seq applied, kept at push:<collectorId>:<runId> (TTL refreshed on every
 * push): a push with seq <= that number is a retry of one already applied and changes
 * nothing. This is the design's SET NX EX per (collectorId, pushSeq) with one key per run
 * instead of one key per push (86 400 keys a day per collector at one push a second).
 *
 * Usage is APPENDed to the minute strings as text lines and summed by the flusher, not in
 * Redis: one APPEND per minute instead of an HGET and an HINCRBY per counter (the script's
 * Redis time per entry about 20x lower, measured; see README.md for the memory this costs).
 *
 * Atomicity: a Lua script is atomic, but a command error half-way leaves the writes made
 * before it. So a first pass checks everything that could fail, and refuses the whole push,
 * writing nothing, if anything would:
 * - HINCRBY of an accepted total past 2^63-1 (current + increment, in doubles, against
 *   9e18 -- the margin dwarfs double rounding; the accepted fields are few, per exporter
 *   and day, so reading each first is cheap);
 * - APPEND past Redis's string limit (proto-max-bulk-len, 512 MB by default; never lower
 *   it below maxMinuteBytes): refused like an overflow (the sink reports those entries);
 * - APPEND to a minute key that is not a string (a hash left by the layout before this one):
 *   an error reply, so the sink retries and reports it until the key is dealt with.
 *
 * KEYS: 1 seq key, 2 minutes zset, 3 accepted hash, 4.. one string per minute of the push.
 * ARGV: 1 seq, 2 seq-key TTL seconds, 3 max bytes of a minute string, 4 number n of accepted
 * pairs, then n field/increment pairs, then per minute string (in KEYS order): minute, text.
 * Reply: 1 applied, 0 already applied, or an array of what would overflow
 * ("<accepted key> <field>" or "<minute key> ...").
 */
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import { LuaScript } from './lua-script.js';
import type { Push } from './push.js';

/** Redis's default proto-max-bulk-len: APPEND fails past it, so the script refuses a push that would get there. */
export const MAX_MINUTE_BYTES = 512 * 1024 * 1024;

export const PUSH_SCRIPT = new LuaScript(
  'push',
  `
local seq = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if seq <= last then return 0 end

local first_minute = 5 + 2 * tonumber(ARGV[4])
local max_bytes = tonumber(ARGV[3])
local refused = {}
for i = 5, first_minute - 1, 2 do
  local current = tonumber(redis.call('HGET', KEYS[3], ARGV[i]) or '0')
  if current + tonumber(ARGV[i + 1]) >= 9.0e18 then refused[#refused + 1] = KEYS[3] .. ' ' .. ARGV[i] end
end
for k = 4, #KEYS do
  local kind = redis.call('TYPE', KEYS[k])['ok']
  if kind ~= 'string' and kind ~= 'none' then
    return redis.error_reply('push not applied: ' .. KEYS[k] .. ' is a ' .. kind .. ', not a minute string (left by an older key layout?)')
  end
  local size = redis.call('STRLEN', KEYS[k]) + #ARGV[first_minute + 2 * (k - 4) + 1]
  if size > max_bytes then refused[#refused + 1] = KEYS[k] .. ' would reach ' .. size .. ' bytes' end
end
if #refused > 0 then return refused end

for i = 5, first_minute - 1, 2 do
  redis.call('HINCRBY', KEYS[3], ARGV[i], ARGV[i + 1])
end
for k = 4, #KEYS do
  local at = first_minute + 2 * (k - 4)
  redis.call('APPEND', KEYS[k], ARGV[at + 1])
  redis.call('ZADD', KEYS[2], ARGV[at], ARGV[at])
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
`,
);

export type PushOutcome = { readonly kind: 'applied' } | { readonly kind: 'duplicate' } | { readonly kind: 'overflow'; readonly fields: readonly string[] };

export function pushScriptArguments(keys: RedisKeys, push: Push, seqTtlSeconds: number, maxMinuteBytes = MAX_MINUTE_BYTES): { keys: string[]; args: Array<string | Buffer> } {
  const scriptKeys = [keys.pushSeq(push.id.collectorId, push.id.runId), keys.minutes, keys.accepted];
  const args: Array<string | Buffer> = [String(push.id.seq), String(seqTtlSeconds), String(maxMinuteBytes), String(push.accepted.size)];
  for (const [field, increment] of push.accepted) args.push(field, increment.toString());
  for (const [minute, text] of push.minutes) {
    scriptKeys.push(keys.minute(minute));
    args.push(String(minute), text);
  }
  return { keys: scriptKeys, args };
}

/**
 * Run the push script once (no retry here: see RedisUsageSink). `maxMinuteBytes` is for
 * tests; it must not exceed the server's proto-max-bulk-len.
 */
export async function applyPush(redis: Redis, keys: RedisKeys, push: Push, seqTtlSeconds: number, maxMinuteBytes = MAX_MINUTE_BYTES): Promise<PushOutcome> {
  const { keys: scriptKeys, args } = pushScriptArguments(keys, push, seqTtlSeconds, maxMinuteBytes);
  const reply = await PUSH_SCRIPT.run(redis, scriptKeys, args);
  if (reply === 1) return { kind: 'applied' };
  if (reply === 0) return { kind: 'duplicate' };
  if (Array.isArray(reply)) return { kind: 'overflow', fields: reply.map(String) };
  throw new Error(`push script returned an unexpected reply: ${JSON.stringify(reply)}`);
}
