/**
 * Billing read routes for billing staff: the open period's accrued charges, invoices and
 * their lines, a period's line items across documents, and credit notes. Read-only: the
 * rater's billing service writes every row these routes read; the API never prices.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import pg, { type Pool } from 'pg';
import { DependencyUnavailableError, errorBody, errorPayload } from '../errors.js';
import { loadCurrentCharges } from './current-charges.js';
import { invoiceExists, listInvoices, loadCreditNotes, loadInvoiceDetail, loadPeriodLines, subscriberExists } from './queries.js';
import {
  creditNoteListSchema,
  currentChargesSchema,
  invoiceDetailSchema,
  invoiceListQuery,
  invoiceListSchema,
  invoiceParams,
  lineItemsQuery,
  lineItemsSchema,
  subscriberParams,
} from './schemas.js';

export interface BillingPluginOptions {
  pool: Pool;
  /** Clock deciding which period is open; tests pin it. */
  now?: () => number;
}

/**
 * An error the server answered (a DatabaseError: a bug, a missing migration) is a 500;
 * anything else (refused, reset, timed out) and the server's own connection and
 * shutdown classes (08, 57P) mean PostgreSQL is unavailable: 503, retry.
 */
async function read<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof pg.DatabaseError && !/^(08|57P)/.test(err.code ?? '')) throw err;
    throw new DependencyUnavailableError('postgresql', { cause: err });
  }
}

const errors = { 400: errorBody, 401: errorBody, 404: errorBody, 503: errorBody };

const billingPlugin: FastifyPluginAsyncZod<BillingPluginOptions> = async (app, { pool, now = Date.now }) => {
  app.get(
    '/v1/subscribers/:id/charges/current',
    {
      schema: {
        tags: ['billing'],
        summary: 'Accrued charges of the open billing period',
        description:
          'What the subscriber\'s invoice for the period open now would be if the period closed at the last accrual ' +
          '(the rater accrues every few minutes as usage closes). `accrued` is null until the first accrual of the period.',
        params: subscriberParams,
        response: { 200: currentChargesSchema, ...errors },
      },
    },
    async (request, reply) => {
      const result = await read(() => loadCurrentCharges(pool, request.params.id, now()));
      if (result.kind === 'no-subscriber') return reply.code(404).send(errorPayload(404, `subscriber ${request.params.id} does not exist`));
      if (result.kind === 'no-subscription') return reply.code(404).send(errorPayload(404, `subscriber ${request.params.id} has no subscription`));
      return result.charges;
    },
  );

  app.get(
    '/v1/subscribers/:id/invoices',
    {
      schema: {
        tags: ['billing'],
        summary: 'Invoices and corrections of one subscriber',
        description: 'Headers and totals, newest period first; within a period the invoice, then its corrections. Fetch one for its lines.',
        params: subscriberParams,
        querystring: invoiceListQuery,
        response: { 200: invoiceListSchema, ...errors },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const invoices = await read(async () => ((await subscriberExists(pool, id)) ? listInvoices(pool, id, request.query) : null));
      if (invoices === null) return reply.code(404).send(errorPayload(404, `subscriber ${id} does not exist`));
      return { subscriberId: id, invoices };
    },
  );

  app.get(
    '/v1/invoices/:invoiceId',
    {
      schema: {
        tags: ['billing'],
        summary: 'One invoice or correction with its lines and tier breakdowns',
        params: invoiceParams,
        response: { 200: invoiceDetailSchema, ...errors },
      },
    },
    async (request, reply) => {
      const invoice = await read(() => loadInvoiceDetail(pool, request.params.invoiceId));
      if (invoice === null) return reply.code(404).send(errorPayload(404, `invoice ${request.params.invoiceId} does not exist`));
      return invoice;
    },
  );

  app.get(
    '/v1/subscribers/:id/line-items',
    {
      schema: {
        tags: ['billing'],
        summary: "Every line stating a charge of one billing period",
        description:
          'The lines of the period\'s invoice and corrections, and late-usage adjustment lines billed on later invoices, ' +
          'each with its document and the credit note that cancelled it, if any. Draft lines may still change.',
        params: subscriberParams,
        querystring: lineItemsQuery,
        response: { 200: lineItemsSchema, ...errors },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { period } = request.query;
      const lines = await read(async () => ((await subscriberExists(pool, id)) ? loadPeriodLines(pool, id, period) : null));
      if (lines === null) return reply.code(404).send(errorPayload(404, `subscriber ${id} does not exist`));
      return { subscriberId: id, periodKey: period, lines };
    },
  );

  app.get(
    '/v1/invoices/:invoiceId/credit-notes',
    {
      schema: {
        tags: ['billing'],
        summary: 'Credit notes issued against an invoice',
        description: 'Each with its lines (negated amounts of the credited lines) and the correction issued with it.',
        params: invoiceParams,
        response: { 200: creditNoteListSchema, ...errors },
      },
    },
    async (request, reply) => {
      const { invoiceId } = request.params;
      const notes = await read(async () => ((await invoiceExists(pool, invoiceId)) ? loadCreditNotes(pool, invoiceId) : null));
      if (notes === null) return reply.code(404).send(errorPayload(404, `invoice ${invoiceId} does not exist`));
      return { invoiceId, creditNotes: notes };
    },
  );
};

export default billingPlugin;
