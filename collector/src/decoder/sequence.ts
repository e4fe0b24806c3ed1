/**
 * Sequence-number and exporter-restart tracking for one (exporter, observation domain).
 *
 * - NetFlow v9 counts export messages; IPFIX and NetFlow v5 count data records sent
 *   before the message (RFC 7011 3.1, Cisco v5 flow_sequence).
 * - softflowd's IPFIX counts the current message's records too ("inclusive" numbering).
 *   The two conventions can only be told apart when consecutive messages carry different
 *   record counts: exclusive predicts last + lastCount, inclusive predicts last + count.
 *   A domain is switched to inclusive after two such messages in a row fit only that rule;
 *   until the convention is known, a message that fits either rule is not a loss.
 * - A restart shows as the sequence falling far back, or sysUptime going back while the
 *   sequence does not continue. The 32-bit sysUptime wrap (every 49.7 days) is not a restart.
 */

const TWO_32 = 4294967296;
/** Reordered messages may carry a slightly older sysUptime: that is not a restart. */
const UPTIME_TOLERANCE_MS = 60000;
const DAY_MS = 86400000;
/** A sequence this far behind what we expected is a reset, not reordering. */
const RESET_GAP_MESSAGES = 1000;
const RESET_GAP_RECORDS = 100000;
/** Consecutive messages that must fit only the inclusive rule before we adopt it. */
const INCLUSIVE_EVIDENCE = 2;

export interface SequenceVerdict {
  /** Messages (v9) or records (IPFIX, v5) that never arrived. */
  lost: number;
  outOfOrder: boolean;
}

type Convention = 'unknown' | 'exclusive' | 'inclusive';

export class SequenceTracker {
  private initialized = false;
  /** Sequence number and data-record count of the last in-order message. */
  private lastSequence = 0;
  private lastStep = 0;
  private lastUptime = NaN;
  private convention: Convention;
  private inclusiveEvidence = 0;
  private exclusiveEvidence = 0;
  /** Set when a message held records we could not count (unknown template). */
  private resync = false;

  constructor(private readonly unit: 'messages' | 'records') {
    // Message counters have no convention to discover.
    this.convention = unit === 'messages' ? 'exclusive' : 'unknown';
  }

  /** The next message cannot be checked against the last (it held uncountable records). */
  markResync(): void {
    this.resync = true;
  }

  /** What the exclusive convention expects next. */
  private expectedExclusive(): number {
    return (this.lastSequence + (this.unit === 'messages' ? 1 : this.lastStep)) >>> 0;
  }

  /**
   * Before decoding a message: did the exporter restart? On true the tracker starts afresh.
   *
   * Signals: the sequence fell far behind the last one, or sysUptime went back (not the
   * wrap) while the sequence does not simply continue. Uptime alone is not trusted: some
   * routers (seen on Huawei) report an uptime that steps back while the sequence continues.
   * `sysUptime` is NaN for IPFIX, which has none in its header.
   */
  detectRestart(sequence: number, sysUptime: number): boolean {
    let restart = false;
    if (this.initialized) {
      const gap = this.unit === 'messages' ? RESET_GAP_MESSAGES : RESET_GAP_RECORDS;
      // Measured from the last sequence seen, which is known even when the records of the
      // last message could not be counted.
      const behind = (this.lastSequence - sequence) >>> 0;
      const fellBack = behind < 0x80000000 && behind > gap;
      const ahead = (sequence - this.lastSequence) >>> 0;
      const continuing = ahead < 0x80000000 && ahead <= gap + this.lastStep;
      let uptimeBack = false;
      if (!Number.isNaN(sysUptime) && !Number.isNaN(this.lastUptime) && sysUptime + UPTIME_TOLERANCE_MS < this.lastUptime) {
        const wrapped = this.lastUptime > TWO_32 - DAY_MS && sysUptime < DAY_MS;
        uptimeBack = !wrapped;
      }
      restart = fellBack || (uptimeBack && !continuing);
    }
    if (!Number.isNaN(sysUptime)) this.lastUptime = sysUptime;
    if (restart) {
      this.initialized = false;
      this.resync = false;
    }
    return restart;
  }

  /**
   * After decoding a message: count what was lost or reordered. `records` is the number
   * of data records it carried (ignored when counting messages).
   */
  observe(sequence: number, records: number): SequenceVerdict {
    const verdict: SequenceVerdict = { lost: 0, outOfOrder: false };
    const step = this.unit === 'messages' ? 1 : records;
    if (this.initialized && !this.resync) {
      const exclusive = this.expectedExclusive();
      const inclusive = (this.lastSequence + step) >>> 0;
      const fitsExclusive = sequence === exclusive;
      const fitsInclusive = this.unit === 'records' && sequence === inclusive;
      if (this.convention === 'unknown' && fitsExclusive !== fitsInclusive) {
        if (fitsInclusive) {
          this.inclusiveEvidence++;
          this.exclusiveEvidence = 0;
          if (this.inclusiveEvidence >= INCLUSIVE_EVIDENCE) this.convention = 'inclusive';
        } else {
          this.exclusiveEvidence++;
          this.inclusiveEvidence = 0;
          if (this.exclusiveEvidence >= INCLUSIVE_EVIDENCE) this.convention = 'exclusive';
        }
      }
      const fits =
        this.convention === 'inclusive' ? fitsInclusive : this.convention === 'exclusive' ? fitsExclusive : fitsExclusive || fitsInclusive;
      if (!fits) {
        const expected = this.convention === 'inclusive' ? inclusive : exclusive;
        const ahead = (sequence - expected) >>> 0;
        if (ahead < 0x80000000) {
          verdict.lost = ahead;
        } else {
          verdict.outOfOrder = true;
          return verdict; // a late message: keep expecting what we expected
        }
      }
    }
    this.initialized = true;
    this.resync = false;
    this.lastSequence = sequence >>> 0;
    this.lastStep = step;
    return verdict;
  }
}
