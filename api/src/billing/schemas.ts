/**
 * Request and response schemas of the billing read routes. They drive validation, the
 * response serializer and the OpenAPI document alike. Money, quantities and byte counts
 * are decimal strings exactly as the rater formatted them (never JSON numbers: a float
 * cannot hold every kopeck, and byte sums exceed 2^53); instants are ISO-8601 UTC.
 */
import { z } from 'zod';

const SUBSCRIBER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const subscriberParams = z.object({
  id: z.string().regex(SUBSCRIBER_ID, { error: 'id must be a subscriber id (letters, digits, . _ -; at most 64)' }).describe('Subscriber id'),
});

export const invoiceParams = z.object({
  invoiceId: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/, { error: 'invoiceId must be an invoice id such as INV-sub-1-2026-03' })
    .describe('Invoice or correction id, e.g. INV-sub-1-2026-03 or COR-sub-1-2026-03-1'),
});

export const periodKey = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, { error: 'period must be a billing period key YYYY-MM (the month the period starts in)' });

export const lineItemsQuery = z.object({ period: periodKey.describe('Billing period, YYYY-MM') });

export const invoiceListQuery = z.object({
  status: z.enum(['draft', 'finalized', 'void'], { error: 'status must be one of draft, finalized, void' }).optional().describe('Only documents in this status'),
  limit: z.coerce
    .number({ error: 'limit must be an integer from 1 to 1000' })
    .int({ error: 'limit must be an integer from 1 to 1000' })
    .min(1, { error: 'limit must be an integer from 1 to 1000' })
    .max(1000, { error: 'limit must be an integer from 1 to 1000' })
    .default(120)
    .describe('Most documents returned, newest period first (default 120)'),
});

const money = z.string().describe('Decimal string with the currency\'s minor-unit digits, e.g. "800.00"');
const decimal = z.string().describe('Decimal string');
const instant = z.string().describe('ISO-8601 instant, UTC');

export const totalsSchema = z.object({ net: money, tax: money, gross: money });

export const taxTotalSchema = totalsSchema.extend({
  name: z.string(),
  ratePercent: decimal,
  inclusion: z.enum(['inclusive', 'exclusive']),
});

const tariffRef = z.object({ id: z.string(), version: z.number().int() });

export const tierSchema = z
  .object({
    tierIndex: z.number().int(),
    fromUnits: decimal,
    toUnits: decimal.nullable().describe('Upper bound of the tier; null for the last, open tier'),
    units: decimal.describe('Units priced in this tier'),
    unitPrice: decimal,
    exactAmount: decimal.describe('units × unitPrice before rounding'),
    amount: money.describe("The tier's share of the line's rounded amount (tiers add up to the line)"),
  })
  .describe('One pricing tier of a usage line');

const chargeSummary = z.object({ quantity: decimal, amount: money, tax: money, net: money, gross: money, bytes: decimal.nullable() });

export const lineSchema = z
  .object({
    id: z.string(),
    lineNo: z.number().int(),
    key: z.string().describe('Unique within the document, e.g. "plan:s1/usage/internet"'),
    chargeKey: z.string().describe('The charge across documents; an adjustment line carries the key of the charge it adjusts'),
    section: z.string().describe('"plan" or "addon:<id>": which rating of the subscriber produced the line'),
    referencePeriodKey: z.string().describe('The period the charge belongs to (differs from the document\'s for late-usage adjustments)'),
    adjustmentId: z.string().nullable().describe('The late-usage adjustment this line bills, if any'),
    kind: z.enum(['recurring', 'recurring-credit', 'usage', 'discount', 'minimum-charge']),
    description: z.string(),
    tariff: tariffRef,
    chargeId: z.string(),
    covers: z.object({ start: instant, end: instant }).describe('The half-open interval [start, end) the line pays for'),
    billableAt: instant,
    timing: z.enum(['advance', 'arrears']),
    quantity: decimal,
    unit: z.string(),
    unitPrice: decimal.nullable(),
    amount: money.describe('As priced: tax-inclusive under an inclusive rule, net under an exclusive one'),
    tax: money,
    net: money,
    gross: money,
    taxRule: z.object({ name: z.string(), ratePercent: decimal, inclusion: z.enum(['inclusive', 'exclusive']) }).nullable(),
    trafficClass: z.string().nullable(),
    direction: z.enum(['download', 'upload', 'both']).nullable(),
    proration: z.object({ basis: z.enum(['day', 'second']), coveredUnits: z.number(), periodUnits: z.number() }).nullable(),
    usage: z
      .object({
        timeWindow: z.string().nullable(),
        bucketCount: z.number().int(),
        bytes: decimal,
        unitBytes: decimal,
        rounding: z.enum(['exact', 'ceil', 'floor']),
        roundingScope: z.enum(['period', 'bucket']),
        measuredUnits: decimal,
        includedUnits: decimal,
        billableUnits: decimal,
      })
      .nullable(),
    tiers: z.array(tierSchema).nullable(),
    discount: z
      .object({
        kind: z.enum(['percent', 'fixed']),
        percent: decimal.nullable(),
        fixedAmount: money.nullable(),
        appliesTo: z.array(z.enum(['recurring', 'usage'])),
        base: money,
        promoCode: z.string().nullable(),
        periodNumber: z.number().int(),
        periods: z.number().int().nullable(),
      })
      .nullable(),
    adjustment: z
      .object({ before: chargeSummary.nullable(), after: chargeSummary.nullable() })
      .nullable()
      .describe('For late-usage adjustment lines: the charge before and after the late usage'),
  })
  .describe('A priced line');

export const invoiceSummarySchema = z.object({
  id: z.string(),
  subscriberId: z.string(),
  periodKey: z.string(),
  kind: z.enum(['invoice', 'correction']).describe('"correction": the corrected charges issued with a credit note'),
  revision: z.number().int(),
  status: z.enum(['draft', 'finalized', 'void']),
  period: z.object({ start: instant, end: instant, timeZone: z.string() }),
  currency: z.string(),
  totals: totalsSchema,
  correctsInvoiceId: z.string().nullable(),
  reason: z.string().nullable(),
  createdAt: instant,
  finalizedAt: instant.nullable(),
});

export const invoiceListSchema = z.object({ subscriberId: z.string(), invoices: z.array(invoiceSummarySchema) });

const sectionEntry = z.object({ section: z.string() });

export const invoiceDetailSchema = invoiceSummarySchema.extend({
  taxes: z.array(taxTotalSchema),
  events: z.array(sectionEntry.extend({ event: z.record(z.string(), z.unknown()) })).describe('Fair-usage events per section'),
  unratedUsage: z
    .array(
      sectionEntry.extend({
        usage: z.object({ reason: z.string(), class: z.string(), direction: z.string(), bucketCount: z.number().int(), bytes: decimal }),
      }),
    )
    .describe('Usage nothing could price: shown, never dropped'),
  tariffVersions: z.array(tariffRef).describe('The tariff versions the document was rated with'),
  lines: z.array(lineSchema),
  creditNoteIds: z.array(z.string()).describe('Credit notes issued against this invoice'),
});

export const periodLineSchema = lineSchema.extend({
  invoiceId: z.string(),
  invoiceKind: z.enum(['invoice', 'correction']),
  invoiceStatus: z.enum(['draft', 'finalized']),
  creditedBy: z.string().nullable().describe('Credit note that cancelled this line, if any'),
});

export const lineItemsSchema = z.object({
  subscriberId: z.string(),
  periodKey: z.string(),
  lines: z.array(periodLineSchema).describe('Every line stating a charge of the period, across its invoice, corrections and later adjustments'),
});

export const creditNoteLineSchema = z.object({
  id: z.string(),
  lineNo: z.number().int(),
  creditedLineId: z.string(),
  description: z.string(),
  kind: lineSchema.shape.kind,
  chargeKey: z.string(),
  unit: z.string(),
  quantity: decimal.describe('Negated'),
  amount: money.describe('Negated'),
  tax: money,
  net: money,
  gross: money,
  tiers: z.array(tierSchema).nullable(),
});

export const creditNoteSchema = z.object({
  id: z.string(),
  invoiceId: z.string(),
  correctionId: z.string().describe('The correction issued with this credit note'),
  subscriberId: z.string(),
  periodKey: z.string(),
  revision: z.number().int(),
  currency: z.string(),
  reason: z.string(),
  totals: totalsSchema.describe('Negative: what is credited'),
  issuedAt: instant,
  lines: z.array(creditNoteLineSchema),
});

export const creditNoteListSchema = z.object({ invoiceId: z.string(), creditNotes: z.array(creditNoteSchema) });

export const currentChargesSchema = z.object({
  subscriberId: z.string(),
  period: z.object({ key: z.string(), start: instant, end: instant, timeZone: z.string() }).describe('The open billing period, now'),
  accrued: z
    .object({
      asOf: instant.describe('The charges are what the invoice would be if the period closed at this instant'),
      usageUntil: instant.describe('Usage up to here is included'),
      computedAt: instant,
      currency: z.string(),
      totals: totalsSchema,
      taxes: z.array(taxTotalSchema),
      lines: z.array(lineSchema.omit({ id: true, lineNo: true }).extend({ lineNo: z.number().int() })),
    })
    .nullable()
    .describe('null until the first accrual of the period has run'),
});
