-- Billing documents (issue 4), owned by rater/src/billing (see its README): invoices and
-- their lines, late-usage adjustments, credit notes, usage watermarks and accruals.
-- PostgreSQL is the record; ClickHouse gets a mirror of finalized lines for analysts.
-- Money is numeric without a fixed scale, so "800.00" RUB and "1500" JPY come back as
-- written (the rater formats amounts to the currency's minor unit); node-postgres returns
-- numeric as a string, never a float.

-- An invoice for one subscriber and billing period (kind 'invoice', revision 0: one per
-- subscription and period, enforced by invoices_one_per_period), or the corrected charges
-- of a finalized period issued with a credit note (kind 'correction', revision 1, 2, ...).
-- A draft is re-rated in place (same id); a finalized document never changes.
CREATE TABLE invoices (
  id text PRIMARY KEY,
  subscriber_id text NOT NULL REFERENCES subscribers (id),
  period_key text NOT NULL
    CONSTRAINT invoices_period_key_format CHECK (period_key ~ '^\d{4}-(0[1-9]|1[0-2])$'),
  kind text NOT NULL
    CONSTRAINT invoices_kind_known CHECK (kind IN ('invoice', 'correction')),
  revision integer NOT NULL DEFAULT 0,
  -- 'void': a draft whose period turned out to bill nothing (it was never issued).
  status text NOT NULL DEFAULT 'draft'
    CONSTRAINT invoices_status_known CHECK (status IN ('draft', 'finalized', 'void')),
  -- The billing period as rated, [start, end) in the subscriber's zone at the time.
  period_start timestamptz NOT NULL,
  period_end timestamptz NOT NULL,
  time_zone text NOT NULL,
  currency text NOT NULL,
  total_net numeric NOT NULL,
  total_tax numeric NOT NULL,
  total_gross numeric NOT NULL,
  -- Per tax rule: [{ name, ratePercent, inclusion, net, tax, gross }].
  taxes jsonb NOT NULL,
  -- Fair-usage events and usage nothing could price, per section: shown, never dropped.
  events jsonb NOT NULL,
  unrated_usage jsonb NOT NULL,
  -- Exactly what the rater was given apart from usage (tariffs after overrides and
  -- promotions, subscription timeline per section), so the document can be reproduced
  -- and late usage is rated on the same terms. The fingerprint identifies that basis.
  rating_basis jsonb NOT NULL,
  basis_fingerprint text NOT NULL,
  corrects_invoice_id text REFERENCES invoices (id),
  reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  finalized_at timestamptz,
  CONSTRAINT invoices_revision_fits_kind CHECK (
    (kind = 'invoice' AND revision = 0 AND corrects_invoice_id IS NULL)
    OR (kind = 'correction' AND revision >= 1 AND corrects_invoice_id IS NOT NULL AND reason IS NOT NULL)
  ),
  CONSTRAINT invoices_finalized_at_iff_finalized CHECK ((status = 'finalized') = (finalized_at IS NOT NULL)),
  CONSTRAINT invoices_totals_add_up CHECK (total_net + total_tax = total_gross),
  CONSTRAINT invoices_period_order CHECK (period_end > period_start),
  CONSTRAINT invoices_one_per_period UNIQUE (subscriber_id, period_key, kind, revision)
);

-- The tariff versions an invoice was rated with. Its rows make those versions immutable
-- (tariff_versions_protect_used) and are the "tariff version set" of the document.
CREATE TABLE invoice_tariff_versions (
  invoice_id text NOT NULL REFERENCES invoices (id),
  tariff_id text NOT NULL,
  version integer NOT NULL,
  PRIMARY KEY (invoice_id, tariff_id, version),
  FOREIGN KEY (tariff_id, version) REFERENCES tariff_versions (tariff_id, version)
);

CREATE INDEX invoice_tariff_versions_by_version ON invoice_tariff_versions (tariff_id, version);

-- What usage a period's charges were rated from: revision 1 when the invoice was
-- finalized, one more each time late usage was billed or the period was re-rated. Usage
-- only grows, so comparing per class/direction byte totals with the latest revision tells
-- whether usage arrived after it. newest_inserted_at and usage_rows are the audit trail
-- (the newest usage_1m row seen, and how many rows there were).
CREATE TABLE usage_watermarks (
  subscriber_id text NOT NULL REFERENCES subscribers (id),
  period_key text NOT NULL,
  revision integer NOT NULL
    CONSTRAINT usage_watermarks_revision_positive CHECK (revision >= 1),
  source text NOT NULL
    CONSTRAINT usage_watermarks_source_known CHECK (source IN ('finalize', 'late-usage', 'rerate')),
  -- The invoice (finalize) or correction (rerate) stating the period's charges; late usage
  -- is stated by the adjustment that points here.
  document_id text REFERENCES invoices (id),
  usage_from timestamptz NOT NULL,
  usage_to timestamptz NOT NULL,
  -- [{ class, direction, bytes }] sorted by class then direction; bytes as decimal strings.
  usage_totals jsonb NOT NULL,
  bucket_count integer NOT NULL,
  usage_rows bigint NOT NULL,
  newest_inserted_at timestamptz,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (subscriber_id, period_key, revision),
  CONSTRAINT usage_watermarks_document_fits_source CHECK ((source = 'late-usage') = (document_id IS NULL)),
  CONSTRAINT usage_watermarks_first_is_finalize CHECK ((source = 'finalize') = (revision = 1))
);

-- Charges for usage that arrived after a period was finalized: the rated delta, billed on
-- the next period whose invoice is not finalized yet (target_period_key). Superseded when
-- the source period is re-rated (the correction then states all of its usage).
CREATE TABLE late_usage_adjustments (
  id text PRIMARY KEY,
  subscriber_id text NOT NULL,
  source_period_key text NOT NULL,
  watermark_revision integer NOT NULL,
  target_period_key text NOT NULL,
  currency text NOT NULL,
  -- The delta lines, in the invoice_lines row shape (see rater/src/billing/store/line-rows.ts).
  lines jsonb NOT NULL,
  total_net numeric NOT NULL,
  total_tax numeric NOT NULL,
  total_gross numeric NOT NULL,
  superseded_by text REFERENCES invoices (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (subscriber_id, source_period_key, watermark_revision)
    REFERENCES usage_watermarks (subscriber_id, period_key, revision),
  CONSTRAINT late_usage_adjustments_once UNIQUE (subscriber_id, source_period_key, watermark_revision),
  CONSTRAINT late_usage_adjustments_target_later CHECK (target_period_key > source_period_key),
  CONSTRAINT late_usage_adjustments_totals_add_up CHECK (total_net + total_tax = total_gross)
);

CREATE INDEX late_usage_adjustments_open_by_target
  ON late_usage_adjustments (subscriber_id, target_period_key) WHERE superseded_by IS NULL;

-- A priced line of an invoice: the rater's line item plus where it sits. charge_key names
-- the charge across documents (section + rater line id, e.g. "plan:s0/usage/internet"):
-- an adjustment line carries the charge_key of the charge it adjusts and the period it
-- belongs to (reference_period_key), so the period's ledger can be summed per charge.
CREATE TABLE invoice_lines (
  id text PRIMARY KEY,
  invoice_id text NOT NULL REFERENCES invoices (id),
  line_no integer NOT NULL,
  line_key text NOT NULL,
  charge_key text NOT NULL,
  -- 'plan' or 'addon:<addon id>': which rating of the subscriber produced the line.
  section text NOT NULL,
  reference_period_key text NOT NULL,
  adjustment_id text REFERENCES late_usage_adjustments (id),
  kind text NOT NULL
    CONSTRAINT invoice_lines_kind_known CHECK (kind IN ('recurring', 'recurring-credit', 'usage', 'discount', 'minimum-charge')),
  description text NOT NULL,
  tariff_id text NOT NULL,
  tariff_version integer NOT NULL,
  charge_id text NOT NULL,
  covers_start timestamptz NOT NULL,
  covers_end timestamptz NOT NULL,
  billable_at timestamptz NOT NULL,
  timing text NOT NULL
    CONSTRAINT invoice_lines_timing_known CHECK (timing IN ('advance', 'arrears')),
  quantity numeric NOT NULL,
  unit text NOT NULL,
  unit_price numeric,
  amount numeric NOT NULL,
  tax numeric NOT NULL,
  net numeric NOT NULL,
  gross numeric NOT NULL,
  tax_rule jsonb,
  traffic_class text,
  direction text
    CONSTRAINT invoice_lines_direction_known CHECK (direction IN ('download', 'upload', 'both')),
  proration jsonb,
  usage jsonb,
  tiers jsonb,
  discount jsonb,
  -- Adjustment lines: { before, after } of the charge, so the delta can be explained.
  adjustment jsonb,
  CONSTRAINT invoice_lines_line_no_unique UNIQUE (invoice_id, line_no),
  CONSTRAINT invoice_lines_key_unique UNIQUE (invoice_id, line_key),
  CONSTRAINT invoice_lines_amounts_add_up CHECK (net + tax = gross),
  CONSTRAINT invoice_lines_adjustment_detail CHECK ((adjustment_id IS NULL) = (adjustment IS NULL))
);

CREATE INDEX invoice_lines_by_adjustment ON invoice_lines (adjustment_id) WHERE adjustment_id IS NOT NULL;

-- A credit note cancels every live charge of a finalized period (its invoice's lines or
-- the last correction's, and adjustment lines already on finalized invoices) when the
-- period is re-rated; the correction issued with it states the corrected charges.
CREATE TABLE credit_notes (
  id text PRIMARY KEY,
  -- The finalized invoice of the period being corrected.
  invoice_id text NOT NULL REFERENCES invoices (id),
  correction_id text NOT NULL UNIQUE REFERENCES invoices (id),
  subscriber_id text NOT NULL REFERENCES subscribers (id),
  period_key text NOT NULL,
  revision integer NOT NULL
    CONSTRAINT credit_notes_revision_positive CHECK (revision >= 1),
  currency text NOT NULL,
  reason text NOT NULL,
  total_net numeric NOT NULL,
  total_tax numeric NOT NULL,
  total_gross numeric NOT NULL,
  issued_at timestamptz NOT NULL,
  CONSTRAINT credit_notes_once UNIQUE (subscriber_id, period_key, revision),
  CONSTRAINT credit_notes_totals_add_up CHECK (total_net + total_tax = total_gross)
);

-- One line per credited invoice line, with the amounts negated; everything descriptive
-- is the credited line's (join on credited_line_id). A line is credited at most once.
CREATE TABLE credit_note_lines (
  id text PRIMARY KEY,
  credit_note_id text NOT NULL REFERENCES credit_notes (id),
  line_no integer NOT NULL,
  credited_line_id text NOT NULL UNIQUE REFERENCES invoice_lines (id),
  quantity numeric NOT NULL,
  amount numeric NOT NULL,
  tax numeric NOT NULL,
  net numeric NOT NULL,
  gross numeric NOT NULL,
  tiers jsonb,
  CONSTRAINT credit_note_lines_line_no_unique UNIQUE (credit_note_id, line_no),
  CONSTRAINT credit_note_lines_amounts_add_up CHECK (net + tax = gross)
);

-- The running cost of a subscriber's open period: what its invoice would be if it were
-- closed at as_of. Replaced as a whole; an older computation never overwrites a newer one.
CREATE TABLE accruals (
  subscriber_id text NOT NULL REFERENCES subscribers (id),
  period_key text NOT NULL,
  as_of timestamptz NOT NULL,
  -- Usage up to here was included (as_of rounded down to a whole minute).
  usage_until timestamptz NOT NULL,
  currency text NOT NULL,
  total_net numeric NOT NULL,
  total_tax numeric NOT NULL,
  total_gross numeric NOT NULL,
  taxes jsonb NOT NULL,
  lines jsonb NOT NULL,
  computed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (subscriber_id, period_key),
  CONSTRAINT accruals_totals_add_up CHECK (total_net + total_tax = total_gross)
);

-- Immutability, enforced whatever the writer ------------------------------------------

CREATE FUNCTION billing_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% rows are never updated or deleted (% refused)', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER usage_watermarks_append_only BEFORE UPDATE OR DELETE ON usage_watermarks
FOR EACH ROW EXECUTE FUNCTION billing_reject_change();
CREATE TRIGGER credit_notes_append_only BEFORE UPDATE OR DELETE ON credit_notes
FOR EACH ROW EXECUTE FUNCTION billing_reject_change();
CREATE TRIGGER credit_note_lines_append_only BEFORE UPDATE OR DELETE ON credit_note_lines
FOR EACH ROW EXECUTE FUNCTION billing_reject_change();

-- A tariff version used by any invoice (draft or final) never changes: edits are new
-- versions. The service reads versions FOR SHARE while it writes an invoice, so an UPDATE
-- racing with the first invoice that uses a version waits and then sees the reference.
CREATE FUNCTION tariff_versions_protect_used() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM invoice_tariff_versions r WHERE r.tariff_id = OLD.tariff_id AND r.version = OLD.version) THEN
    RAISE EXCEPTION 'tariff % version % is used by an invoice and never changes; publish a new version instead', OLD.tariff_id, OLD.version
      USING ERRCODE = 'restrict_violation';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER tariff_versions_protect_used BEFORE UPDATE OR DELETE ON tariff_versions
FOR EACH ROW EXECUTE FUNCTION tariff_versions_protect_used();

-- Invoices: created as drafts; a finalized one never changes; finalizing checks that the
-- totals are the sums of the lines being frozen.
CREATE FUNCTION invoices_protect_finalized() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  sums record;
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.status = 'finalized' THEN
      RAISE EXCEPTION 'invoice % must be inserted as a draft and finalized with its lines in place', NEW.id
        USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
  END IF;
  IF OLD.status = 'finalized' THEN
    RAISE EXCEPTION 'invoice % is finalized and never changes; re-rate the period to issue a credit note and corrected charges', OLD.id
      USING ERRCODE = 'restrict_violation';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  IF (NEW.id, NEW.subscriber_id, NEW.period_key, NEW.kind, NEW.revision) IS DISTINCT FROM
     (OLD.id, OLD.subscriber_id, OLD.period_key, OLD.kind, OLD.revision) THEN
    RAISE EXCEPTION 'the identity of invoice % never changes', OLD.id USING ERRCODE = 'restrict_violation';
  END IF;
  IF NEW.status = 'finalized' THEN
    SELECT coalesce(sum(net), 0) AS net, coalesce(sum(tax), 0) AS tax, coalesce(sum(gross), 0) AS gross
      INTO sums FROM invoice_lines WHERE invoice_id = NEW.id;
    IF sums.net <> NEW.total_net OR sums.tax <> NEW.total_tax OR sums.gross <> NEW.total_gross THEN
      RAISE EXCEPTION 'invoice % totals (%, %, %) are not the sums of its lines (%, %, %)', NEW.id,
        NEW.total_net, NEW.total_tax, NEW.total_gross, sums.net, sums.tax, sums.gross
        USING ERRCODE = 'check_violation';
    END IF;
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER invoices_protect_finalized BEFORE INSERT OR UPDATE OR DELETE ON invoices
FOR EACH ROW EXECUTE FUNCTION invoices_protect_finalized();

-- Lines and tariff references of an invoice change only while it is not finalized.
CREATE FUNCTION billing_require_open_invoice() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  parent text;
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.invoice_id IS DISTINCT FROM OLD.invoice_id THEN
    RAISE EXCEPTION '% rows never move to another invoice', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
  END IF;
  parent := CASE WHEN TG_OP = 'INSERT' THEN NEW.invoice_id ELSE OLD.invoice_id END;
  IF EXISTS (SELECT 1 FROM invoices WHERE id = parent AND status = 'finalized') THEN
    RAISE EXCEPTION 'invoice % is finalized; its % never change', parent, TG_TABLE_NAME
      USING ERRCODE = 'restrict_violation';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER invoice_lines_require_open_invoice BEFORE INSERT OR UPDATE OR DELETE ON invoice_lines
FOR EACH ROW EXECUTE FUNCTION billing_require_open_invoice();
CREATE TRIGGER invoice_tariff_versions_require_open_invoice BEFORE INSERT OR UPDATE OR DELETE ON invoice_tariff_versions
FOR EACH ROW EXECUTE FUNCTION billing_require_open_invoice();

-- Only issued charges can be credited.
CREATE FUNCTION credit_note_lines_credit_finalized() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
    WHERE l.id = NEW.credited_line_id AND i.status = 'finalized'
  ) THEN
    RAISE EXCEPTION 'line % is not on a finalized invoice and cannot be credited', NEW.credited_line_id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER credit_note_lines_credit_finalized BEFORE INSERT ON credit_note_lines
FOR EACH ROW EXECUTE FUNCTION credit_note_lines_credit_finalized();

-- An adjustment is never edited; the one change it sees is being superseded, once.
CREATE FUNCTION late_usage_adjustments_protect() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'late usage adjustments are never deleted' USING ERRCODE = 'restrict_violation';
  END IF;
  IF OLD.superseded_by IS NOT NULL OR NEW.superseded_by IS NULL
     OR (to_jsonb(NEW) - 'superseded_by') IS DISTINCT FROM (to_jsonb(OLD) - 'superseded_by') THEN
    RAISE EXCEPTION 'late usage adjustment % can only be marked superseded, once', OLD.id
      USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER late_usage_adjustments_protect BEFORE UPDATE OR DELETE ON late_usage_adjustments
FOR EACH ROW EXECUTE FUNCTION late_usage_adjustments_protect();
