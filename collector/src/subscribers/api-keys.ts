/**
 * API keys for the HTTP API: a random key is shown once to the operator, only its
 * sha256 is stored, so a leaked database does not leak working keys. Verification
 * is shared/src/postgres/api-key-verifier.ts.
 */
import { randomBytes } from 'node:crypto';
import { hashApiKey } from '@flowbill/shared/postgres/api-key-verifier';
import type { Queryable } from '@flowbill/shared/postgres/index';
import { SubscriberDataError } from './errors.js';

/** Prefix of every key, so a key pasted into the wrong place is recognisable (and greppable by secret scanners). */
export const API_KEY_PREFIX = 'fbk_';

const UNIQUE_VIOLATION = '23505';

/** 32 random bytes (256 bits) as base64url after the prefix. */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** What api_keys.key_hash stores (sha256 hex); one definition for every service. */
export { hashApiKey };

/** Store a new key named `name`; returns the key itself, which is not stored anywhere. */
export async function createApiKey(db: Queryable, name: string): Promise<{ name: string; key: string; createdAt: Date }> {
  checkName(name);
  const key = generateApiKey();
  try {
    const { rows } = await db.query<{ created_at: Date }>('INSERT INTO api_keys (name, key_hash) VALUES ($1, $2) RETURNING created_at', [name, hashApiKey(key)]);
    return { name, key, createdAt: rows[0].created_at };
  } catch (error) {
    if ((error as { code?: unknown }).code === UNIQUE_VIOLATION && (error as { constraint?: unknown }).constraint === 'api_keys_name_key') {
      // Names stay taken after revocation so an audit trail never shows two keys under one name.
      throw new SubscriberDataError(`an API key named "${name}" already exists (names of revoked keys stay taken)`);
    }
    throw error;
  }
}

/** Mark the active key named `name` revoked now; throws SubscriberDataError when there is none. */
export async function revokeApiKey(db: Queryable, name: string): Promise<{ name: string; revokedAt: Date }> {
  const { rows } = await db.query<{ revoked_at: Date }>(
    'UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL RETURNING revoked_at',
    [name],
  );
  if (rows.length > 0) return { name, revokedAt: rows[0].revoked_at };
  const existing = await db.query<{ revoked_at: Date | null }>('SELECT revoked_at FROM api_keys WHERE name = $1', [name]);
  if (existing.rows.length > 0) throw new SubscriberDataError(`the API key "${name}" was already revoked at ${existing.rows[0].revoked_at?.toISOString()}`);
  throw new SubscriberDataError(`no API key named "${name}"`);
}

function checkName(name: string): void {
  if (name.trim() === '' || name.length > 100 || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new SubscriberDataError(`API key name ${JSON.stringify(name)} must be 1-100 printable characters`);
  }
}
