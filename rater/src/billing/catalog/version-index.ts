import type { TariffRef } from '../../schema/primitives.js';
import { BillingError } from '../errors.js';
import type { TariffVersionRecord } from './records.js';

/**
 * Which version of a tariff is in force when: the version with the latest effective_from
 * not after the instant, and among equal effective_from the highest version. A tariff
 * correction is therefore published as a new version with the effective_from of the
 * version it corrects, and wins wherever that one applied.
 */
export class VersionIndex {
  private readonly byTariff = new Map<string, TariffVersionRecord[]>();

  constructor(records: readonly TariffVersionRecord[]) {
    for (const record of records) {
      const list = this.byTariff.get(record.tariffId) ?? [];
      list.push(record);
      this.byTariff.set(record.tariffId, list);
    }
    for (const list of this.byTariff.values()) list.sort((a, b) => a.effectiveFrom - b.effectiveFrom || a.version - b.version);
  }

  /** The version of `tariffId` in force at `instant`. */
  at(tariffId: string, instant: number): TariffVersionRecord {
    const list = this.byTariff.get(tariffId) ?? [];
    let found: TariffVersionRecord | undefined;
    for (const record of list) {
      if (record.effectiveFrom > instant) break;
      found = record; // sorted by (effectiveFrom, version): the last one not after the instant wins
    }
    if (found === undefined) {
      const first = list[0];
      throw new BillingError(
        'catalog',
        first === undefined
          ? `tariff ${tariffId} has no published version`
          : `tariff ${tariffId} has no version in force at ${new Date(instant).toISOString()} (the first is effective from ${new Date(first.effectiveFrom).toISOString()})`,
      );
    }
    return found;
  }

  /** Instants strictly inside (from, to) at which another version of `tariffId` may take over. */
  changesWithin(tariffId: string, from: number, to: number | null): number[] {
    const instants = (this.byTariff.get(tariffId) ?? []).map((record) => record.effectiveFrom).filter((at) => at > from && (to === null || at < to));
    return [...new Set(instants)].sort((a, b) => a - b);
  }

  get(ref: TariffRef): TariffVersionRecord {
    const record = (this.byTariff.get(ref.id) ?? []).find((candidate) => candidate.version === ref.version);
    if (record === undefined) throw new BillingError('catalog', `tariff ${ref.id} version ${ref.version} is not in the catalog`);
    return record;
  }

  all(): TariffVersionRecord[] {
    return [...this.byTariff.values()].flat();
  }
}
