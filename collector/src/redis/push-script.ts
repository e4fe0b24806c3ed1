/**
 * The push script: applies a Push atomically and at most once.
 *
 * Idempotence: a sink delivers its pushes strictly one at a time, in seq order, and
 * resends the head push until acknowledged. So "applied" is one number per sink run,
 * the highest seq applied, kept at push:<collectorId>:<runId> (TTL refreshed on every
 * push): a push with seq <= that number is a retry of one already applied and changes
 * nothing. This is the design's SET NX EX per (collectorId, pushSeq) with one key per run
 * instead of one key per push (432 000 keys a day per collector at 200 ms).
 *
 * Atomicity: a Lua script is atomic, but a command error half-way leaves the writes made
 * before it. The only error HINCRBY can raise on valid input is overflow past 2^63-1, so
 * a first pass checks every target (current + increment, in doubles, against 9e18 -- the
 * margin dwarfs double rounding) and refuses the whole push, writing nothing, if any would
 * overflow.
 *
 * KEYS: 1 seq key, 2 minutes zset, 3 accepted hash, 4.. one hash per minute of the push.
 * ARGV: 1 seq, 2 seq-key TTL seconds, 3 number n of accepted pairs, then n field/increment
 * pairs, then per minute hash (in KEYS order): minute, pair count k, k field/increment pairs.
 * Reply: 1 applied, 0 already applied, or an array of "<key> <field>" that would overflow.
 */
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import { LuaScript } from './lua-script.js';
import type { Push } from './push.js';

export const PUSH_SCRIPT = new LuaScript(
  'push',
  `
local seq = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if seq <= last then return 0 end

local function walk(on_minute, on_field)
  local i = 4
  local n = tonumber(ARGV[3])
  for _ = 1, n do
    on_field(KEYS[3], ARGV[i], ARGV[i + 1])
    i = i + 2
  end
  for k = 4, #KEYS do
    local count = tonumber(ARGV[i + 1])
    on_minute(ARGV[i])
    i = i + 2
    for _ = 1, count do
      on_field(KEYS[k], ARGV[i], ARGV[i + 1])
      i = i + 2
    end
  end
end

local overflow = {}
walk(function() end, function(key, field, increment)
  local current = tonumber(redis.call('HGET', key, field) or '0')
  if current + tonumber(increment) >= 9.0e18 then overflow[#overflow + 1] = key .. ' ' .. field end
end)
if #overflow > 0 then return overflow end

walk(function(minute)
  redis.call('ZADD', KEYS[2], minute, minute)
end, function(key, field, increment)
  redis.call('HINCRBY', key, field, increment)
end)
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
`,
);

export type PushOutcome = { readonly kind: 'applied' } | { readonly kind: 'duplicate' } | { readonly kind: 'overflow'; readonly fields: readonly string[] };

export function pushScriptArguments(keys: RedisKeys, push: Push, seqTtlSeconds: number): { keys: string[]; args: string[] } {
  const scriptKeys = [keys.pushSeq(push.id.collectorId, push.id.runId), keys.minutes, keys.accepted];
  const args = [String(push.id.seq), String(seqTtlSeconds), String(push.accepted.size)];
  for (const [field, increment] of push.accepted) args.push(field, increment.toString());
  for (const [minute, fields] of push.minutes) {
    scriptKeys.push(keys.minute(minute));
    args.push(String(minute), String(fields.size));
    for (const [field, increment] of fields) args.push(field, increment.toString());
  }
  return { keys: scriptKeys, args };
}

/** Run the push script once (no retry here: see RedisUsageSink). */
export async function applyPush(redis: Redis, keys: RedisKeys, push: Push, seqTtlSeconds: number): Promise<PushOutcome> {
  const { keys: scriptKeys, args } = pushScriptArguments(keys, push, seqTtlSeconds);
  const reply = await PUSH_SCRIPT.run(redis, scriptKeys, args);
  if (reply === 1) return { kind: 'applied' };
  if (reply === 0) return { kind: 'duplicate' };
  if (Array.isArray(reply)) return { kind: 'overflow', fields: reply.map(String) };
  throw new Error(`push script returned an unexpected reply: ${JSON.stringify(reply)}`);
}
