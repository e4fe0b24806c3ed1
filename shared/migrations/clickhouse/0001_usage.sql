-- Per-minute usage as the flusher writes it, and its hourly and daily rollups.
--
-- Base schema: runs on ClickHouse 18.16 and current versions, so no TTL, codecs,
-- LowCardinality or IPv4/IPv6 column types here (those go in version-gated files).
-- DateTime columns hold instants (epoch seconds); rollup buckets are computed in UTC
-- explicitly, so the server's time zone never changes which hour or day a minute is in.
-- Time zones for billing are the rater's job.

CREATE TABLE IF NOT EXISTS usage_1m (
    minute        DateTime,
    subscriber_id String,
    address       String,
    direction     Enum8('download' = 1, 'upload' = 2),
    traffic_class String,
    bytes         UInt64,
    packets       UInt64,
    flows         UInt64,
    batch_id      String,
    inserted_at   DateTime
) ENGINE = MergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (subscriber_id, minute, direction, traffic_class, address);

-- SummingMergeTree adds rows with equal keys together, but only when parts merge, which
-- happens eventually. Readers must always sum() with GROUP BY.
CREATE TABLE IF NOT EXISTS usage_1h (
    hour          DateTime,
    subscriber_id String,
    address       String,
    direction     Enum8('download' = 1, 'upload' = 2),
    traffic_class String,
    bytes         UInt64,
    packets       UInt64,
    flows         UInt64
) ENGINE = SummingMergeTree((bytes, packets, flows))
PARTITION BY toYYYYMM(hour)
ORDER BY (subscriber_id, hour, direction, traffic_class, address);

CREATE TABLE IF NOT EXISTS usage_1d (
    day           DateTime,
    subscriber_id String,
    address       String,
    direction     Enum8('download' = 1, 'upload' = 2),
    traffic_class String,
    bytes         UInt64,
    packets       UInt64,
    flows         UInt64
) ENGINE = SummingMergeTree((bytes, packets, flows))
PARTITION BY toYYYYMM(day)
ORDER BY (subscriber_id, day, direction, traffic_class, address);

-- A materialized view sees each block inserted into usage_1m (not the whole table), so
-- every INSERT adds its own partial sums; late batches for an hour simply add more rows.
CREATE MATERIALIZED VIEW IF NOT EXISTS usage_1h_mv TO usage_1h AS
SELECT
    toStartOfHour(minute, 'UTC') AS hour,
    subscriber_id,
    address,
    direction,
    traffic_class,
    sum(bytes)   AS bytes,
    sum(packets) AS packets,
    sum(flows)   AS flows
FROM usage_1m
GROUP BY hour, subscriber_id, address, direction, traffic_class;

CREATE MATERIALIZED VIEW IF NOT EXISTS usage_1d_mv TO usage_1d AS
SELECT
    toStartOfDay(minute, 'UTC') AS day,
    subscriber_id,
    address,
    direction,
    traffic_class,
    sum(bytes)   AS bytes,
    sum(packets) AS packets,
    sum(flows)   AS flows
FROM usage_1m
GROUP BY day, subscriber_id, address, direction, traffic_class;
