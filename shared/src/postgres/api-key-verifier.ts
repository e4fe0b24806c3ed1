/**
 * API key verification: keys are stored as SHA-256 hex in PostgreSQL `api_keys.key_hash`,
 * never in clear. Verified keys are cached briefly so a busy client does not cost a
 * PostgreSQL round trip per request; the cache lifetime is also the longest a revoked
 * key keeps working.
 */
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';

// Used by the API and by the collector/flusher /metrics endpoints alike.

export interface ApiKeyIdentity {
  id: string;
  name: string;
}

export interface ApiKeyVerifierOptions {
  pool: Pool;
  /** How long a verified key is trusted without asking PostgreSQL again. */
  cacheTtlMs: number;
  /** Bound on cached keys, so a flood of distinct keys cannot grow memory without limit. */
  maxCachedKeys?: number;
  now?: () => number;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

interface CacheEntry {
  identity: ApiKeyIdentity;
  expiresAt: number;
}

export class ApiKeyVerifier {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly now: () => number;
  private readonly maxCachedKeys: number;

  constructor(private readonly options: ApiKeyVerifierOptions) {
    this.now = options.now ?? Date.now;
    this.maxCachedKeys = options.maxCachedKeys ?? 10_000;
  }

  /** The key's identity, or null when the key is unknown or revoked. */
  async verify(presentedKey: string): Promise<ApiKeyIdentity | null> {
    // Timing: the stored secret is never compared with what the client sent. Only the
    // SHA-256 of the presented key is used, as a map key and an index lookup, so a timing
    // difference can reveal at most a prefix of a hash the caller computed itself, which
    // gives no way to build a key that hashes to a stored value. A constant-time compare
    // would protect nothing here.
    const hashHex = hashApiKey(presentedKey);
    const now = this.now();

    const cached = this.cache.get(hashHex);
    if (cached && cached.expiresAt > now) return cached.identity;
    if (cached) this.cache.delete(hashHex);

    // Unknown keys are not cached: a key created a moment ago must work at once, and a
    // flood of bad keys must not evict the good ones.
    const { rows } = await this.options.pool.query<{ id: string; name: string }>(
      'SELECT id::text AS id, name FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL LIMIT 1',
      [hashHex],
    );
    const row = rows[0];
    if (!row) return null;

    const identity = { id: row.id, name: row.name };
    if (this.cache.size >= this.maxCachedKeys) {
      // Maps iterate in insertion order: drop the oldest entry.
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(hashHex, { identity, expiresAt: now + this.options.cacheTtlMs });
    return identity;
  }
}
