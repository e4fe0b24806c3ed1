/**
 * One JSON error shape for every non-2xx answer, so clients parse errors the same way
 * whichever plugin produced them. Validation errors also list the offending parameters.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { STATUS_CODES } from 'node:http';
import { z } from 'zod';

export const errorBody = z.object({
  statusCode: z.number().int(),
  error: z.string().describe('HTTP reason phrase'),
  message: z.string().describe('What went wrong, naming the parameter when one is at fault'),
  issues: z
    .array(
      z.object({
        parameter: z.string().describe('Query or path parameter at fault, e.g. "from"'),
        in: z.enum(['query', 'path', 'header', 'body']),
        message: z.string(),
      }),
    )
    .optional(),
});

export type ErrorBody = z.infer<typeof errorBody>;

export function errorPayload(statusCode: number, message: string, issues?: ErrorBody['issues']): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, ...(issues ? { issues } : {}) };
}

/** Thrown by handlers when a backing store is down: the client may retry, so 503, not 500. */
export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: string,
    options?: { cause?: unknown },
  ) {
    super(`${dependency} is unavailable`, options);
    this.name = 'DependencyUnavailableError';
  }
}

const CONTEXT_TO_LOCATION = { querystring: 'query', params: 'path', headers: 'header', body: 'body' } as const;

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const location = CONTEXT_TO_LOCATION[err.validationContext as keyof typeof CONTEXT_TO_LOCATION] ?? 'query';
      const issues = err.validation.map((v) => ({
        parameter: v.instancePath.replace(/^\//, '').replaceAll('/', '.') || '(request)',
        in: location,
        message: v.message ?? 'invalid',
      }));
      // Our messages start with the parameter's name; zod's stock ones do not.
      const message = issues.map((i) => (i.message.startsWith(`${i.parameter} `) ? i.message : `${i.parameter}: ${i.message}`)).join('; ');
      return reply.code(400).send(errorPayload(400, message, issues));
    }
    if (err instanceof DependencyUnavailableError) {
      request.log.error({ err: err.cause ?? err, dependency: err.dependency }, 'dependency unavailable');
      return reply.code(503).header('retry-after', '5').send(errorPayload(503, err.message));
    }
    const status = 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 500) {
      // Internals (SQL, stack) stay in the log; the client gets the request id to quote.
      request.log.error({ err }, 'request failed');
      return reply.code(500).send(errorPayload(500, `internal error (request id ${request.id})`));
    }
    return reply.code(status).send(errorPayload(status, err.message));
  });

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorPayload(404, `no route ${request.method} ${request.url.split('?')[0]}`));
  });
}
