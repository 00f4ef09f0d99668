/**
 * The HTTP application: the FHIR API under /fhir, health and metrics, and the error handling that
 * turns anything the framework rejects (body too large, bad media type) into an OperationOutcome.
 */
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyError, FastifyInstance } from 'fastify';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { errors, FhirError, httpStatusFor } from './fhir/errors.ts';
import type { FhirStore } from './fhir/store/fhir-store.ts';
import { FHIR_JSON, registerFhirHttp } from './fhir/rest/fhir-http.ts';
import type { ServerInfo } from './fhir/rest/interactions/capabilities.ts';
import type { ReindexService } from './fhir/rest/interactions/reindex.ts';
import { registerHl7AdminRoutes } from './hl7-adapters/admin/routes.ts';
import type { Hl7AdminOptions } from './hl7-adapters/admin/routes.ts';
import type { Pool } from './db/pool.ts';
import type { Metrics } from './observability/metrics.ts';
import { registerClockRoutes } from './clock/admin-routes.ts';
import type { ClockRouteOptions } from './clock/admin-routes.ts';
import { registerSubscriptionAdminRoutes } from './subscriptions/admin/routes.ts';

export interface HttpAppOptions {
  store: FhirStore;
  logger: Logger;
  metrics: Metrics;
  server: ServerInfo;
  reindex: ReindexService;
  baseUrl: string | undefined;
  maxBodyBytes: number;
  /** The HL7 message log and sender configuration API (/admin/hl7). */
  hl7Admin: Hl7AdminOptions;
  /** The subscription state view (/admin/subscriptions). */
  subscriptionAdmin: { pool: Pool };
  /** The follow-up clock (/admin/clock). */
  clock: ClockRouteOptions;
  /** Database reachable and migrated; false while starting or shutting down. */
  ready: () => Promise<boolean>;
}

/**
 * Requests the HTTP parser rejects (raw non-ASCII bytes in the URL, broken headers) get an
 * OperationOutcome saying what to fix, instead of Node's bare 400, before the socket closes.
 */
function answerMalformedRequest(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed || !socket.writable) return;
  const [status, text] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'The request was not received in time']
        : [400, 'Malformed HTTP request; URLs must be percent-encoded (for example name=%E5%BC%A0 for name=张)'];
  const body = JSON.stringify(errors.malformedRequest(text).outcome);
  socket.end(`HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : status === 408 ? 'Request Timeout' : 'Request Header Fields Too Large'}\r\nConnection: close\r\nContent-Type: ${FHIR_JSON}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

const KNOWN_TYPES_ONLY = (type: string | undefined) => type ?? 'none';

export function createHttpApp(options: HttpAppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // One access-log line per request from our onResponse hook instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.maxBodyBytes,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true },
    clientErrorHandler: answerMalformedRequest,
  });

  // Responses finishing while the server drains close their keep-alive connection, so that
  // app.close() (which only reaps idle connections) completes as soon as they are sent.
  let draining = false;
  app.addHook('preClose', async () => {
    draining = true;
  });
  app.addHook('onSend', async (_req, reply) => {
    if (draining) reply.header('connection', 'close');
  });

  app.addHook('onResponse', async (req, reply) => {
    // The query string is not logged: it carries patient identifiers.
    req.log.info({ method: req.method, path: req.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
  });

  registerFhirHttp(app, {
    store: options.store,
    server: options.server,
    reindex: options.reindex,
    baseUrl: options.baseUrl,
    logger: options.logger,
    observe: (interaction, resourceType, status, seconds) => {
      const type = KNOWN_TYPES_ONLY(resourceType);
      options.metrics.requests.inc({ interaction, resource_type: type, status: String(status) });
      options.metrics.latency.observe({ interaction, resource_type: type }, seconds);
    },
  });

  registerHl7AdminRoutes(app, options.hl7Admin);
  registerSubscriptionAdminRoutes(app, options.subscriptionAdmin.pool);
  registerClockRoutes(app, options.clock);

  app.get('/healthz', async (_req, reply) => reply.send({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const ready = await options.ready().catch(() => false);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready' });
  });
  app.get('/metrics', async (_req, reply) => reply.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics()));

  app.setNotFoundHandler((req, reply) => {
    const err = errors.unknownPath(`${req.method} ${req.url.split('?')[0]}; the FHIR API is under /fhir`);
    reply.code(404).type(FHIR_JSON).send(JSON.stringify(err.outcome));
  });

  app.setErrorHandler((error: FastifyError | FhirError, req, reply) => {
    let err: FhirError;
    if (error instanceof FhirError) err = error;
    else if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') err = errors.bodyTooLarge(options.maxBodyBytes);
    else if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') err = errors.unsupportedMediaType(String(req.headers['content-type'] ?? ''));
    else if (typeof error.statusCode === 'number' && error.statusCode < 500) err = errors.invalidJson(error.message);
    else {
      req.log.error({ err: error }, 'unhandled error');
      err = errors.internal();
    }
    reply.code(httpStatusFor(err)).type(FHIR_JSON).send(JSON.stringify(err.outcome));
  });
  return app;
}
