-- Billing catalog (issue 4), owned by rater/src/billing (see its README): tariffs with
-- immutable versions, subscriptions over time, add-on services, per-subscriber overrides
-- and promotions. Tariff bodies are validated by the rater's parseTariff before insert;
-- the database checks what it can check without the rater (identity, ranges, shapes).
-- Applied migrations are never edited: add 01NN_... instead.

-- A tariff is a named plan or add-on service; its prices live in its versions.
CREATE TABLE tariffs (
  id text PRIMARY KEY
    CONSTRAINT tariffs_id_not_blank CHECK (btrim(id) <> '' AND length(id) <= 200),
  -- 'plan': what a subscription is on (one at a time); 'addon': a service added to it
  -- (router rental, phone line). Add-ons are rated without usage, so one byte is never
  -- priced twice; the service refuses add-on versions with usage charges.
  kind text NOT NULL
    CONSTRAINT tariffs_kind_known CHECK (kind IN ('plan', 'addon')),
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Target of the composite foreign keys below, so a subscription can only be on a
  -- plan and an add-on only on an add-on tariff.
  CONSTRAINT tariffs_id_kind_unique UNIQUE (id, kind)
);

-- One version of a tariff. A version in force at an instant is the one with the latest
-- effective_from not after it; among equal effective_from the highest version wins, so a
-- correction is published as a new version with the effective_from of the version it
-- corrects. Versions used by any invoice never change (trigger in 0102).
CREATE TABLE tariff_versions (
  tariff_id text NOT NULL REFERENCES tariffs (id),
  version integer NOT NULL
    CONSTRAINT tariff_versions_version_positive CHECK (version >= 1),
  effective_from timestamptz NOT NULL,
  currency text NOT NULL,
  -- The tariff as parseTariff returned it (defaults filled in), so a version keeps its
  -- meaning even if the rater's defaults change later.
  body jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tariff_id, version),
  CONSTRAINT tariff_versions_body_identity CHECK (
    body ->> 'id' = tariff_id
    AND body ->> 'version' = version::text
    AND body ->> 'currency' = currency
  )
);

CREATE INDEX tariff_versions_in_force ON tariff_versions (tariff_id, effective_from, version);

-- A subscriber's contract: one per subscriber, on a plan from activated_at. The time
-- zone is the subscriber's (subscribers.time_zone), not copied here, so there is one
-- place to change it.
CREATE TABLE subscriptions (
  subscriber_id text PRIMARY KEY REFERENCES subscribers (id),
  tariff_id text NOT NULL,
  tariff_kind text NOT NULL DEFAULT 'plan'
    CONSTRAINT subscriptions_tariff_is_plan CHECK (tariff_kind = 'plan'),
  billing_cycle text NOT NULL DEFAULT 'calendar-month'
    CONSTRAINT subscriptions_cycle_known CHECK (billing_cycle IN ('calendar-month', 'anniversary')),
  anchor_day smallint
    CONSTRAINT subscriptions_anchor_day_range CHECK (anchor_day BETWEEN 1 AND 31),
  activated_at timestamptz NOT NULL,
  terminated_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT subscriptions_anchor_only_for_anniversary CHECK ((billing_cycle = 'anniversary') = (anchor_day IS NOT NULL)),
  CONSTRAINT subscriptions_terminated_after_activated CHECK (terminated_at IS NULL OR terminated_at > activated_at),
  FOREIGN KEY (tariff_id, tariff_kind) REFERENCES tariffs (id, kind)
);

-- Requests to move to another plan. Whether one takes effect at once or at the end of the
-- period is the rater's rule (tariff policy, or `effective` when given).
CREATE TABLE subscription_plan_changes (
  id bigserial PRIMARY KEY,
  subscriber_id text NOT NULL REFERENCES subscriptions (subscriber_id),
  requested_at timestamptz NOT NULL,
  tariff_id text NOT NULL,
  tariff_kind text NOT NULL DEFAULT 'plan'
    CONSTRAINT subscription_plan_changes_tariff_is_plan CHECK (tariff_kind = 'plan'),
  effective text
    CONSTRAINT subscription_plan_changes_effective_known CHECK (effective IN ('immediate', 'period-end')),
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tariff_id, tariff_kind) REFERENCES tariffs (id, kind),
  -- A retried request is the same request.
  CONSTRAINT subscription_plan_changes_once UNIQUE (subscriber_id, requested_at, tariff_id)
);

-- Add-on services (router rental, phone line) over [active_from, active_to).
CREATE TABLE subscription_addons (
  subscriber_id text NOT NULL REFERENCES subscriptions (subscriber_id),
  -- Subscriber-local name of the add-on; part of invoice line keys.
  addon_id text NOT NULL
    CONSTRAINT subscription_addons_id_charset CHECK (addon_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  tariff_id text NOT NULL,
  tariff_kind text NOT NULL DEFAULT 'addon'
    CONSTRAINT subscription_addons_tariff_is_addon CHECK (tariff_kind = 'addon'),
  active_from timestamptz NOT NULL,
  active_to timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (subscriber_id, addon_id),
  FOREIGN KEY (tariff_id, tariff_kind) REFERENCES tariffs (id, kind),
  CONSTRAINT subscription_addons_range CHECK (active_to IS NULL OR active_to > active_from)
);

-- Individual terms for one subscriber on one tariff: a recurring fee's price or a usage
-- charge's included units (quota), for whole billing periods from_period..to_period
-- (inclusive; open-ended when to_period is null). Whole periods because a mid-period
-- change of terms would split the period's allowance; a plan change does that explicitly.
CREATE TABLE subscription_overrides (
  id bigserial PRIMARY KEY,
  subscriber_id text NOT NULL REFERENCES subscriptions (subscriber_id),
  tariff_id text NOT NULL REFERENCES tariffs (id),
  target text NOT NULL
    CONSTRAINT subscription_overrides_target_known CHECK (target IN ('recurring-fee', 'usage-charge')),
  charge_id text NOT NULL,
  price numeric
    CONSTRAINT subscription_overrides_price_non_negative CHECK (price >= 0),
  included_units numeric
    CONSTRAINT subscription_overrides_units_non_negative CHECK (included_units >= 0),
  from_period text NOT NULL
    CONSTRAINT subscription_overrides_from_period_key CHECK (from_period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
  to_period text
    CONSTRAINT subscription_overrides_to_period_key CHECK (to_period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT subscription_overrides_value_fits_target CHECK (
    (target = 'recurring-fee' AND price IS NOT NULL AND included_units IS NULL)
    OR (target = 'usage-charge' AND included_units IS NOT NULL AND price IS NULL)
  ),
  CONSTRAINT subscription_overrides_period_order CHECK (to_period IS NULL OR to_period >= from_period),
  -- For one target the override with the latest from_period not after a period applies.
  CONSTRAINT subscription_overrides_once UNIQUE (subscriber_id, tariff_id, target, charge_id, from_period)
);

-- Promotions: a discount a subscriber gets by entering a code. `discount` is a rater
-- discount without id and promoCode (kind, percent|amount, appliesTo, periods), added to
-- the listed tariffs of subscribers who entered the code; periods count from the period
-- the code was entered in. NULL discount: the discount is written in the tariffs
-- themselves (discounts[].promoCode) and this row only makes the code enterable.
CREATE TABLE promotions (
  code text PRIMARY KEY
    CONSTRAINT promotions_code_charset CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  name text NOT NULL
    CONSTRAINT promotions_name_not_blank CHECK (btrim(name) <> ''),
  discount jsonb,
  tariff_ids text[] NOT NULL
    CONSTRAINT promotions_tariffs_not_empty CHECK (cardinality(tariff_ids) > 0),
  -- When the code may be entered.
  valid_from timestamptz NOT NULL,
  valid_to timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT promotions_validity_order CHECK (valid_to IS NULL OR valid_to > valid_from)
);

CREATE TABLE subscription_promo_codes (
  subscriber_id text NOT NULL REFERENCES subscriptions (subscriber_id),
  code text NOT NULL REFERENCES promotions (code),
  applied_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (subscriber_id, code)
);
