-- requires: clickhouse >= 20.3
--
-- Retention for flows_raw: rows are removed 30 days after start_time.
-- TTL appeared in 19.6; the gate is 20.3 (the first LTS with ALTER ... MODIFY TTL and
-- MATERIALIZE TTL settled). Skipped on 18.16, where old days are dropped by partition.
-- MODIFY TTL is idempotent, so a repeated run is harmless.

ALTER TABLE flows_raw MODIFY TTL start_time + INTERVAL 30 DAY;
