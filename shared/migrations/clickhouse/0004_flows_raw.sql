-- Optional per-flow records, for investigating a subscriber's usage. Created always;
-- written only when the collector is configured to (off by default). Partitioned by
-- day so old days can be dropped cheaply (ALTER TABLE flows_raw DROP PARTITION 20240131)
-- on servers without TTL; newer servers get a TTL from 0005.
-- bytes and packets are scaled by the sampling rate, like usage_1m; sampling_rate keeps
-- the factor. subscriber_id is '' for flows that matched no subscriber.

CREATE TABLE IF NOT EXISTS flows_raw (
    start_time    DateTime,
    end_time      DateTime,
    exporter      String,
    subscriber_id String,
    address       String,
    direction     Enum8('download' = 1, 'upload' = 2),
    traffic_class String,
    src_address   String,
    dst_address   String,
    src_port      UInt16,
    dst_port      UInt16,
    protocol      UInt8,
    bytes         UInt64,
    packets       UInt64,
    sampling_rate UInt32,
    inserted_at   DateTime
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(start_time)
ORDER BY (subscriber_id, start_time);
