/**
 * One aggregated counter set: what a (exporter, subscriber, address, minute, direction,
 * class) accumulated. The exporter is part of the key (not of the billed row) so that every
 * push carries its own per-exporter "accepted" totals, derived from exactly the usage it
 * carries: the two can never disagree, however a drain splits the map.
 */
import type { Direction } from '../attribution/index.js';

export interface UsageKey {
  /** Exporter label (the service passes the router's address); part of the accepted totals only. */
  readonly exporter: string;
  readonly subscriberId: string;
  /** Subscriber-side address as text (RFC 5952 for IPv6). */
  readonly address: string;
  /** Bucket start, epoch seconds (UTC), a multiple of 60. */
  readonly minute: number;
  readonly direction: Direction;
  readonly trafficClass: string;
}

export interface UsageEntry extends UsageKey {
  /** Sampling-scaled, exact. */
  bytes: bigint;
  packets: bigint;
  /** Flows counted once, in their start minute. */
  flows: bigint;
}

/**
 * Map key of an entry. Tab-separated because none of the parts may contain a tab (the
 * Redis usage lines rely on the same rule; see `hasSeparator`).
 */
export function usageKeyString(key: UsageKey): string {
  return usageKeyText(key.exporter, key.subscriberId, key.address, key.direction, key.trafficClass, key.minute);
}

/** usageKeyString from parts, for hot paths that have no key object. */
export function usageKeyText(exporter: string, subscriberId: string, address: string, direction: Direction, trafficClass: string, minute: number): string {
  return `${exporter}\t${subscriberId}\t${address}\t${direction}\t${trafficClass}\t${minute}`;
}

/** Text parts of a key must not contain these: they separate parts in map keys and lines and parts in Redis minute strings. */
export function hasSeparator(text: string): boolean {
  return text.includes('\t') || text.includes('\n');
}

/** Add `from`'s counters into `into` (same key). */
export function mergeInto(into: UsageEntry, from: Readonly<UsageEntry>): void {
  into.bytes += from.bytes;
  into.packets += from.packets;
  into.flows += from.flows;
}
