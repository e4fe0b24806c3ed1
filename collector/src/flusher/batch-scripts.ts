/**
 * The flusher's Lua scripts: claim, recover, renew (and release), cleanup. Each one is a
 * single atomic step of the protocol in README.md; every key it touches is passed in KEYS
 * (all under the `{u}` hash tag), so they are legal on Redis Cluster.
 *
 * Lease times use Redis's clock (TIME), never a flusher's, so flushers with skewed clocks
 * still agree on when a lease has expired.
 */
import type { Redis } from 'ioredis';
import { LuaScript, type RedisKeys } from '../redis/index.js';

const NOW = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`;

/**
 * Claim: move closed minutes into a new batch.
 * KEYS: 1 minutes, 2 flushing, 3 batch hash, then per candidate minute: open string, claimed string.
 * ARGV: 1 batchId, 2 owner, 3 leaseMs, 4 maxBytes, 5 chunkRows, 6.. candidate minutes.
 * Takes candidates in order while the batch stays within maxBytes of minute strings (STRLEN;
 * always at least one minute), RENAMEs each open string to the batch's name and removes the
 * minute from `minutes` (a later push for it re-creates both: late data becomes another
 * batch). A minute whose key is not a string (a hash of the key layout before this one) ends
 * the claim before it; alone, it makes the claim fail with an error naming it, before any
 * write, so the batch never holds what the reader cannot read. Returns the claimed minutes
 * (empty: nothing to claim, no batch created).
 */
const CLAIM = new LuaScript(
  'claim',
  `${NOW}
local claimed = {}
local bytes = 0
local max_bytes = tonumber(ARGV[4])
for i = 6, #ARGV do
  local minute = ARGV[i]
  local open_key = KEYS[2 * (i - 6) + 4]
  local claimed_key = KEYS[2 * (i - 6) + 5]
  if redis.call('ZSCORE', KEYS[1], minute) then
    local kind = redis.call('TYPE', open_key)['ok']
    if kind ~= 'string' and kind ~= 'none' then
      if #claimed > 0 then break end
      return redis.error_reply('claim refused: ' .. open_key .. ' is a ' .. kind .. ', not a minute string (left by an older key layout?)')
    end
    local n = redis.call('STRLEN', open_key)
    if #claimed > 0 and bytes + n > max_bytes then break end
    redis.call('ZREM', KEYS[1], minute)
    if n > 0 then
      redis.call('RENAME', open_key, claimed_key)
      claimed[#claimed + 1] = minute
      bytes = bytes + n
    end
  end
end
if #claimed == 0 then return {} end
redis.call('HSET', KEYS[3], 'owner', ARGV[2], 'minutes', table.concat(claimed, ','), 'chunkRows', ARGV[5], 'bytes', string.format('%d', bytes), 'claimedAt', string.format('%d', now))
redis.call('ZADD', KEYS[2], string.format('%d', now + tonumber(ARGV[3])), ARGV[1])
return claimed
`,
);

/**
 * Recover: take over a batch whose lease expired (its flusher died or stalled), or one
 * this same owner already holds but lost track of — the reply to its claim was lost (Redis
 * restarted, connection reset), or the flusher restarted under the same id. A flusher works
 * on one batch at a time and only recovers between batches, so a batch under its own name
 * found then is an orphan, not one in progress.
 * KEYS: 1 flushing, 2 batch hash. ARGV: 1 batchId, 2 owner, 3 leaseMs.
 * Returns the batch hash as a flat array, or nil when the lease is still valid (and not
 * ours) or the batch is gone (finished meanwhile).
 */
const RECOVER = new LuaScript(
  'recover',
  `${NOW}
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expiry then return false end
if tonumber(expiry) > now and redis.call('HGET', KEYS[2], 'owner') ~= ARGV[2] then return false end
redis.call('ZADD', KEYS[1], string.format('%d', now + tonumber(ARGV[3])), ARGV[1])
redis.call('HSET', KEYS[2], 'owner', ARGV[2])
return redis.call('HGETALL', KEYS[2])
`,
);

/**
 * Renew: extend the lease to now + leaseMs if `owner` still owns the batch (even if the
 * lease ran out meanwhile: nobody took it over). leaseMs 0 releases it: recoverable at once.
 * KEYS: 1 flushing, 2 batch hash. ARGV: 1 batchId, 2 owner, 3 leaseMs. Returns 1, or 0 if lost.
 */
const RENEW = new LuaScript(
  'renew',
  `${NOW}
if redis.call('HGET', KEYS[2], 'owner') ~= ARGV[2] then return 0 end
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], string.format('%d', now + tonumber(ARGV[3])), ARGV[1])
return 1
`,
);

/**
 * Cleanup: after every part of the batch is in ClickHouse, delete its minute strings and its
 * flushing entry, if `owner` still owns it (else the new owner will).
 * KEYS: 1 flushing, 2 batch hash, 3.. claimed strings. ARGV: 1 batchId, 2 owner. Returns 1 or 0.
 */
const CLEANUP = new LuaScript(
  'cleanup',
  `
if redis.call('HGET', KEYS[2], 'owner') ~= ARGV[2] then return 0 end
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
`,
);

/** What the batch hash records at claim time; recovery reads it back. */
export interface BatchInfo {
  readonly batchId: string;
  readonly minutes: readonly number[];
  /** Rows per insert part, fixed at claim time so a retry splits the batch identically. */
  readonly chunkRows: number;
}

export interface ClaimRequest {
  readonly batchId: string;
  readonly owner: string;
  readonly leaseMs: number;
  /** Stop adding minutes once their strings would pass this many bytes (the first minute always goes). */
  readonly maxBytes: number;
  readonly chunkRows: number;
  /** Candidate minutes, ascending. */
  readonly minutes: readonly number[];
}

export async function claimBatch(redis: Redis, keys: RedisKeys, request: ClaimRequest): Promise<BatchInfo | null> {
  const scriptKeys = [keys.minutes, keys.flushing, keys.batch(request.batchId)];
  for (const minute of request.minutes) scriptKeys.push(keys.minute(minute), keys.claimed(request.batchId, minute));
  const args = [request.batchId, request.owner, String(request.leaseMs), String(request.maxBytes), String(request.chunkRows), ...request.minutes.map(String)];
  const reply = (await CLAIM.run(redis, scriptKeys, args)) as string[];
  if (reply.length === 0) return null;
  return { batchId: request.batchId, minutes: reply.map(Number), chunkRows: request.chunkRows };
}

export async function recoverBatch(redis: Redis, keys: RedisKeys, batchId: string, owner: string, leaseMs: number): Promise<BatchInfo | null> {
  const reply = (await RECOVER.run(redis, [keys.flushing, keys.batch(batchId)], [batchId, owner, String(leaseMs)])) as string[] | null;
  if (reply === null) return null;
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < reply.length; i += 2) fields.set(reply[i], reply[i + 1]);
  const minutes = fields.get('minutes');
  const chunkRows = Number(fields.get('chunkRows'));
  if (minutes === undefined || !(chunkRows > 0)) {
    throw new Error(`batch ${batchId} has no usable description in ${keys.batch(batchId)} (got ${JSON.stringify(Object.fromEntries(fields))})`);
  }
  return { batchId, minutes: minutes.split(',').map(Number), chunkRows };
}

/** true: still ours, lease now runs until Redis time + leaseMs. */
export async function renewLease(redis: Redis, keys: RedisKeys, batchId: string, owner: string, leaseMs: number): Promise<boolean> {
  return (await RENEW.run(redis, [keys.flushing, keys.batch(batchId)], [batchId, owner, String(leaseMs)])) === 1;
}

export async function cleanupBatch(redis: Redis, keys: RedisKeys, batch: BatchInfo, owner: string): Promise<boolean> {
  const scriptKeys = [keys.flushing, keys.batch(batch.batchId), ...batch.minutes.map((minute) => keys.claimed(batch.batchId, minute))];
  return (await CLEANUP.run(redis, scriptKeys, [batch.batchId, owner])) === 1;
}
