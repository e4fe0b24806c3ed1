-- Priced lines of finalized invoices, corrections and credit notes, mirrored from
-- PostgreSQL (the record) by rater/src/billing (mirrorInvoice) for analysts. See
-- rater/src/billing/README.md for the example queries.
--
-- Idempotent mirroring: every line has a deterministic line_id and lives in a
-- deterministic partition (its revenue month), so writing a document again only adds
-- duplicates that ReplacingMergeTree collapses on merge and FINAL collapses at query time.
-- Read with FINAL (the views do) or argMax(..., mirror_version) grouped by line_id.
--
-- Money: 18.16 has Decimal (no experimental setting needed, and none may be sent: a
-- readonly analyst user may not change settings), but its JSONEachRow parser refuses a
-- Decimal given as a JSON string, and a JSON number would pass through a JS float. So the
-- exact decimal text is inserted into *_text String columns and the Decimal64(4) columns
-- are MATERIALIZED from it on the server (4 places hold every supported currency's minor
-- unit). Sum the Decimal columns; toString() them when reading over JSON.

CREATE TABLE IF NOT EXISTS line_items (
    line_id              String,
    document_id          String,
    document_kind        Enum8('invoice' = 1, 'correction' = 2, 'credit-note' = 3),
    subscriber_id        String,
    -- The document's billing period, and the period the charge belongs to (different for
    -- late-usage adjustments, which are billed on a later invoice).
    period_key           String,
    reference_period_key String,
    is_adjustment        UInt8,
    -- 'plan' or 'addon:<id>'; line_kind is the rater's (recurring, usage, discount, ...).
    section              String,
    line_kind            String,
    charge_id            String,
    description          String,
    tariff_id            String,
    tariff_version       UInt32,
    traffic_class        String,
    direction            String,
    currency             String,
    quantity             String,
    unit                 String,
    -- Bytes priced by a usage line (negative on credit notes).
    usage_bytes          Int64,
    billable_at          DateTime,
    -- The subscriber's local day the charge is due; a charge due at the end of what it
    -- covers (arrears, usage) counts on the last day it covers.
    revenue_date         Date,
    -- The subscriber's local day the document was finalized or issued.
    document_date        Date,
    amount_text          String,
    net_text             String,
    tax_text             String,
    gross_text           String,
    amount               Decimal64(4) MATERIALIZED toDecimal64(amount_text, 4),
    net                  Decimal64(4) MATERIALIZED toDecimal64(net_text, 4),
    tax                  Decimal64(4) MATERIALIZED toDecimal64(tax_text, 4),
    gross                Decimal64(4) MATERIALIZED toDecimal64(gross_text, 4),
    -- When the row was mirrored (epoch ms): the newest copy of a line wins.
    mirror_version       UInt64
) ENGINE = ReplacingMergeTree(mirror_version)
PARTITION BY toYYYYMM(revenue_date)
ORDER BY (subscriber_id, document_id, line_id);

-- Revenue views. Amounts of different currencies are never added together.

CREATE VIEW IF NOT EXISTS revenue_by_day AS
SELECT
    revenue_date AS day,
    currency,
    sum(net)     AS net,
    sum(tax)     AS tax,
    sum(gross)   AS gross,
    count()      AS lines
FROM line_items FINAL
GROUP BY day, currency;

CREATE VIEW IF NOT EXISTS revenue_by_tariff AS
SELECT
    toStartOfMonth(revenue_date) AS month,
    tariff_id,
    tariff_version,
    currency,
    sum(net)   AS net,
    sum(tax)   AS tax,
    sum(gross) AS gross,
    count()    AS lines
FROM line_items FINAL
GROUP BY month, tariff_id, tariff_version, currency;

CREATE VIEW IF NOT EXISTS revenue_by_service AS
SELECT
    toStartOfMonth(revenue_date) AS month,
    section,
    line_kind,
    charge_id,
    currency,
    sum(net)   AS net,
    sum(tax)   AS tax,
    sum(gross) AS gross,
    count()    AS lines
FROM line_items FINAL
GROUP BY month, section, line_kind, charge_id, currency;

CREATE VIEW IF NOT EXISTS revenue_by_traffic_class AS
SELECT
    toStartOfMonth(revenue_date) AS month,
    traffic_class,
    direction,
    currency,
    sum(usage_bytes) AS bytes,
    sum(net)         AS net,
    sum(tax)         AS tax,
    sum(gross)       AS gross,
    count()          AS lines
FROM line_items FINAL
WHERE line_kind = 'usage'
GROUP BY month, traffic_class, direction, currency;
