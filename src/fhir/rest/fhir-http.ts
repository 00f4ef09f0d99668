/**
 * The FHIR REST API over HTTP (Fastify): adapts requests under /fhir to FhirRequests, runs them
 * through the router, and writes FhirResponses with the FHIR headers. JSON only; every error is
 * an OperationOutcome (docs/errors.md).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { errors, FhirError, httpStatusFor } from '../errors.ts';
import type { FhirStore } from '../store/fhir-store.ts';
import type { FhirRequest, FhirResponse, HttpMethod } from './fhir-request.ts';
import type { ServerInfo } from './interactions/capabilities.ts';
import type { ReindexService } from './interactions/reindex.ts';
import { etag } from './responses.ts';
import { route } from './router.ts';
import type { Routed, RouterContext } from './router.ts';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const XML = /\bxml\b/i;

export interface FhirHttpOptions {
  store: FhirStore;
  server: ServerInfo;
  reindex: ReindexService;
  /** Configured public base URL; otherwise derived from each request's Host. */
  baseUrl: string | undefined;
  logger: Logger;
  /** Called once per request with what it was, for metrics. */
  observe?: (interaction: string, resourceType: string | undefined, status: number, seconds: number) => void;
}

function fhirBase(req: FastifyRequest, configured: string | undefined): string {
  return configured ?? `${req.protocol}://${req.host}/fhir`;
}

/** JSON only: XML in Accept, Content-Type or _format is answered 406 with an OperationOutcome. */
function checkMediaTypes(req: FastifyRequest, url: URL): void {
  const format = url.searchParams.get('_format') ?? '';
  const contentType = String(req.headers['content-type'] ?? '');
  const accept = String(req.headers.accept ?? '');
  if (XML.test(format) || XML.test(contentType)) throw errors.notAcceptable(XML.test(format) ? format : contentType);
  if (accept && XML.test(accept) && !/json|\*\/\*/i.test(accept)) throw errors.notAcceptable(accept);
}

function toFhirRequest(req: FastifyRequest, url: URL): FhirRequest {
  const path = url.pathname.replace(/^\/fhir\/?/, '');
  let segments: string[];
  try {
    segments = path === '' ? [] : path.replace(/\/+$/, '').split('/').map(decodeURIComponent);
  } catch {
    throw errors.unsupportedOperation(`Malformed URL path ${url.pathname}`);
  }
  const header = (name: string) => {
    const value = req.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  return {
    method: req.method as HttpMethod,
    segments,
    query: url.searchParams,
    ifMatch: header('if-match'),
    ifNoneExist: header('if-none-exist'),
    ifNoneMatch: header('if-none-match'),
    ifModifiedSince: header('if-modified-since'),
    prefer: header('prefer'),
    contentType: header('content-type'),
    body: req.body,
  };
}

function send(reply: FastifyReply, res: FhirResponse): FastifyReply {
  const v = res.version;
  if (v && !v.deleted) {
    reply.header('ETag', etag(v));
    reply.header('Last-Modified', new Date(v.lastUpdated).toUTCString());
  }
  if (res.location) reply.header('Location', res.location);
  reply.code(res.status);
  if (res.body === undefined) return reply.send();
  return reply.type(FHIR_JSON).send(res.body);
}

/** Connection-level PostgreSQL failures: the request may succeed later (503, not 500). */
function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '57P01', '57P02', '57P03', '53300', '08006', '08001', '08003'].includes(e.code ?? '') ||
    /timeout exceeded when trying to connect|Connection terminated/i.test(e.message ?? '')
  );
}

export function errorResponse(err: FhirError): FhirResponse {
  return { status: httpStatusFor(err), body: JSON.stringify(err.outcome) };
}

export function registerFhirHttp(app: FastifyInstance, options: FhirHttpOptions): void {
  const parseJson = (_req: FastifyRequest, body: string, done: (err: Error | null, value?: unknown) => void) => {
    if (body.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(body));
    } catch (err) {
      done(errors.invalidJson((err as Error).message));
    }
  };
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['application/json', 'application/fhir+json', 'application/json-patch+json'], { parseAs: 'string' }, parseJson);
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, new URLSearchParams(body as string)));
  app.addContentTypeParser('*', (req, _payload, done) => {
    const type = String(req.headers['content-type'] ?? '');
    done(XML.test(type) ? errors.notAcceptable(type) : errors.unsupportedMediaType(type));
  });

  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const started = process.hrtime.bigint();
    let routed: Routed | undefined;
    let res: FhirResponse;
    try {
      const url = new URL(req.url, 'http://x');
      checkMediaTypes(req, url);
      const ctx: RouterContext = { store: options.store, baseUrl: fhirBase(req, options.baseUrl), server: options.server, reindex: options.reindex };
      routed = route(ctx, toFhirRequest(req, url));
      res = await routed.run();
    } catch (err) {
      if (err instanceof FhirError) res = errorResponse(err);
      else if (isDatabaseUnavailable(err)) {
        options.logger.warn({ err, path: req.url.split('?')[0] }, 'database unavailable');
        res = errorResponse(errors.unavailable('The database is unavailable; retry later'));
      } else {
        options.logger.error({ err, method: req.method, path: req.url.split('?')[0] }, 'request failed');
        res = errorResponse(errors.internal());
      }
    }
    options.observe?.(routed?.interaction ?? 'unknown', routed?.resourceType, res.status, Number(process.hrtime.bigint() - started) / 1e9);
    return send(reply, res);
  };
  app.route({ method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], url: '/fhir', handler });
  app.route({ method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], url: '/fhir/*', handler });
}
