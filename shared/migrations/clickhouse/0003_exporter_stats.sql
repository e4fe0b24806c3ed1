-- Per-exporter counter snapshots written periodically by each collector. Counters are
-- cumulative since the collector process started (started_at), so a restart is visible
-- as a new started_at rather than as a drop; deltas come from consecutive snapshots.
-- bytes and packets are scaled by the sampling rate, like usage_1m.

CREATE TABLE IF NOT EXISTS exporter_stats (
    time                 DateTime,
    collector            String,
    started_at           DateTime,
    exporter             String,
    messages             UInt64,
    records              UInt64,
    bytes                UInt64,
    packets              UInt64,
    errors               UInt64,
    sequence_gaps        UInt64,
    rate_unknown_records UInt64
) ENGINE = MergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (exporter, collector, time);
