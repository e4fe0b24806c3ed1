/**
 * A push: one atomic, idempotent application of usage entries to Redis, identified by
 * (collectorId, runId, seq). Built once when sealed and then resent unchanged until Redis
 * acknowledges it, so a retry is byte-for-byte the same push.
 */
import type { UsageEntry } from '../aggregation/index.js';
import { acceptedField, usageField, utcDay } from './keys.js';

export interface PushId {
  readonly collectorId: string;
  /** Random per sink instance, so a restarted collector's seqs never collide with its last run's. */
  readonly runId: string;
  /** Strictly increasing within a run; pushes of a run are applied in seq order. */
  readonly seq: number;
}

export interface Push {
  readonly id: PushId;
  /** Minute (epoch s) -> usage field -> increment; only non-zero increments. */
  readonly minutes: ReadonlyMap<number, ReadonlyMap<string, bigint>>;
  /** Accepted field -> increment: the same entries summed per exporter and UTC day. */
  readonly accepted: ReadonlyMap<string, bigint>;
  /** The entries it was built from (reported if the push is refused). */
  readonly entries: readonly UsageEntry[];
}

/** Sum entries into the usage fields of their minutes and into their exporters' accepted totals. */
export function buildPush(id: PushId, entries: readonly UsageEntry[]): Push {
  const minutes = new Map<number, Map<string, bigint>>();
  const accepted = new Map<string, bigint>();
  for (const e of entries) {
    let fields = minutes.get(e.minute);
    if (fields === undefined) {
      fields = new Map();
      minutes.set(e.minute, fields);
    }
    const day = utcDay(e.minute);
    addTo(fields, usageField(e.subscriberId, e.address, e.direction, e.trafficClass, 'b'), e.bytes);
    addTo(fields, usageField(e.subscriberId, e.address, e.direction, e.trafficClass, 'p'), e.packets);
    addTo(fields, usageField(e.subscriberId, e.address, e.direction, e.trafficClass, 'f'), e.flows);
    addTo(accepted, acceptedField(e.exporter, day, 'bytes'), e.bytes);
    addTo(accepted, acceptedField(e.exporter, day, 'packets'), e.packets);
    addTo(accepted, acceptedField(e.exporter, day, 'flows'), e.flows);
  }
  for (const [minute, fields] of minutes) if (fields.size === 0) minutes.delete(minute);
  return { id, minutes, accepted, entries };
}

function addTo(map: Map<string, bigint>, field: string, value: bigint): void {
  if (value === 0n) return;
  map.set(field, (map.get(field) ?? 0n) + value);
}
