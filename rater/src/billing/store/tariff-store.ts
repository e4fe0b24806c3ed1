import type { Queryable } from '@flowbill/shared/postgres/index';
import { parseTariff } from '../../input/parse-inputs.js';
import type { Tariff } from '../../tariff/tariff-schema.js';
import type { TariffVersionRecord } from '../catalog/records.js';

interface VersionRow {
  tariff_id: string;
  version: number;
  effective_from: Date;
  body: unknown;
}

const toRecord = (row: VersionRow): TariffVersionRecord => ({
  tariffId: row.tariff_id,
  version: row.version,
  effectiveFrom: row.effective_from.getTime(),
  tariff: parseTariff(row.body, `stored tariff ${row.tariff_id}@${row.version}`),
});

/** The tariff's kind, creating the tariff with `kind` if it does not exist yet. */
export async function ensureTariff(client: Queryable, tariffId: string, kind: 'plan' | 'addon'): Promise<'plan' | 'addon'> {
  await client.query('INSERT INTO tariffs (id, kind) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING', [tariffId, kind]);
  const { rows } = await client.query<{ kind: 'plan' | 'addon' }>('SELECT kind FROM tariffs WHERE id = $1', [tariffId]);
  return rows[0].kind;
}

export async function tariffKind(client: Queryable, tariffId: string): Promise<'plan' | 'addon' | null> {
  const { rows } = await client.query<{ kind: 'plan' | 'addon' }>('SELECT kind FROM tariffs WHERE id = $1', [tariffId]);
  return rows[0]?.kind ?? null;
}

export async function findVersion(client: Queryable, tariffId: string, version: number): Promise<TariffVersionRecord | null> {
  const { rows } = await client.query<VersionRow>('SELECT tariff_id, version, effective_from, body FROM tariff_versions WHERE tariff_id = $1 AND version = $2', [
    tariffId,
    version,
  ]);
  return rows.length === 0 ? null : toRecord(rows[0]);
}

export async function latestVersionNumber(client: Queryable, tariffId: string): Promise<number> {
  const { rows } = await client.query<{ latest: number | null }>('SELECT max(version) AS latest FROM tariff_versions WHERE tariff_id = $1', [tariffId]);
  return rows[0].latest ?? 0;
}

export async function insertVersion(client: Queryable, tariff: Tariff, effectiveFrom: number): Promise<void> {
  await client.query('INSERT INTO tariff_versions (tariff_id, version, effective_from, currency, body) VALUES ($1, $2, $3, $4, $5)', [
    tariff.id,
    tariff.version,
    new Date(effectiveFrom),
    tariff.currency,
    JSON.stringify(tariff),
  ]);
}

/**
 * Every version of the given tariffs. With `forShare` the rows stay locked until the
 * transaction ends, so a concurrent UPDATE of a version this transaction is about to
 * reference waits, and then the immutability trigger sees the reference and refuses it.
 */
export async function loadVersions(client: Queryable, tariffIds: readonly string[], options: { forShare: boolean }): Promise<TariffVersionRecord[]> {
  if (tariffIds.length === 0) return [];
  const { rows } = await client.query<VersionRow>(
    `SELECT tariff_id, version, effective_from, body FROM tariff_versions
     WHERE tariff_id = ANY($1::text[])
     ORDER BY tariff_id, version${options.forShare ? ' FOR SHARE' : ''}`,
    [[...new Set(tariffIds)]],
  );
  return rows.map(toRecord);
}
