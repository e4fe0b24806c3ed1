-- Which flusher batches are in usage_1m. The flusher checks here before inserting a
-- batch, so a batch retried after a crash is not inserted twice. The view writes the
-- batch's row during the same INSERT that writes its usage rows.
-- (ClickHouse writes the view's block right after the table's; see the README for the
-- narrow window a server crash between the two leaves.)

CREATE TABLE IF NOT EXISTS flush_batches (
    batch_id    String,
    minute      DateTime,
    row_count   UInt64,
    inserted_at DateTime
) ENGINE = MergeTree
PARTITION BY toYYYYMM(inserted_at)
ORDER BY batch_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS flush_batches_mv TO flush_batches AS
SELECT
    batch_id,
    min(minute)      AS minute,
    count()          AS row_count,
    max(inserted_at) AS inserted_at
FROM usage_1m
GROUP BY batch_id;
