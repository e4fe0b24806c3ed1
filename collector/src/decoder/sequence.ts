/**
 * Sequence-number and exporter-restart tracking for one (exporter, observation domain).
 *
 * - NetFlow v9 counts export messages; IPFIX and NetFlow v5 count data records sent
 *   before the message (RFC 7011 3.1, Cisco v5 flow_sequence).
 * - softflowd's IPFIX counts the current message's records too. Rather than report a loss
 *   on every message, a domain whose numbers match that rule exactly switches to it.
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

export interface SequenceVerdict {
  /** Messages (v9) or records (IPFIX, v5) that never arrived. */
  lost: number;
  outOfOrder: boolean;
}

export class SequenceTracker {
  private initialized = false;
  private expectedNext = 0;
  private lastUptime = NaN;
  /** softflowd-style IPFIX numbering (sequence includes the current message). */
  private inclusive = false;
  /** Set when a message held records we could not count (unknown template). */
  private resync = false;

  constructor(private readonly unit: 'messages' | 'records') {}

  /** Forget the counting state (after an exporter restart or an uncountable message). */
  markResync(): void {
    this.resync = true;
  }

  /**
   * Before decoding a message: did the exporter restart? On true the tracker starts afresh.
   *
   * Signals: the sequence fell far behind what we expected (a reset), or sysUptime went
   * back (not the 32-bit wrap) while the sequence does not simply continue. Uptime alone is
   * not trusted: some routers (seen on Huawei) report an uptime that runs slower than the
   * wall clock or steps back between line cards while the sequence continues normally.
   * `sysUptime` is NaN for IPFIX, which has none in its header.
   */
  detectRestart(sequence: number, sysUptime: number): boolean {
    let restart = false;
    if (this.initialized) {
      const gap = this.unit === 'messages' ? RESET_GAP_MESSAGES : RESET_GAP_RECORDS;
      const ahead = (sequence - this.expectedNext) >>> 0;
      const behind = (this.expectedNext - sequence) >>> 0;
      const continuing = !this.resync && ahead <= gap;
      const fellBack = !this.resync && behind !== 0 && behind < 0x80000000 && behind > gap;
      let uptimeBack = false;
      if (!Number.isNaN(sysUptime) && !Number.isNaN(this.lastUptime) && sysUptime + UPTIME_TOLERANCE_MS < this.lastUptime) {
        const wrapped = this.lastUptime > TWO_32 - DAY_MS && sysUptime < DAY_MS;
        uptimeBack = !wrapped;
      }
      restart = fellBack || (uptimeBack && !continuing);
    }
    if (!Number.isNaN(sysUptime)) this.lastUptime = sysUptime;
    if (restart) this.initialized = false;
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
      const expected = this.inclusive ? (this.expectedNext + step) >>> 0 : this.expectedNext;
      if (sequence !== expected) {
        const ahead = (sequence - expected) >>> 0;
        if (!this.inclusive && this.unit === 'records' && step > 0 && ahead === step) {
          // The softflowd rule fits exactly: adopt it instead of reporting a loss.
          this.inclusive = true;
        } else if (ahead < 0x80000000) {
          verdict.lost = ahead;
        } else {
          verdict.outOfOrder = true;
          return verdict; // keep expecting what we expected
        }
      }
    }
    this.initialized = true;
    this.resync = false;
    // Next expected number, in the domain's own convention.
    this.expectedNext = this.inclusive ? sequence >>> 0 : (sequence + step) >>> 0;
    return verdict;
  }
}
