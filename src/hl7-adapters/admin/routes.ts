/**
 * The HL7 admin API under /admin/hl7 (JSON; errors are OperationOutcomes like the FHIR API's):
 *
 *   GET    /admin/hl7/messages?control-id=&patient-identifier=&type=&status=&sender-application=&sender-facility=&since=&until=&_count=&before=
 *   GET    /admin/hl7/messages/{id}                 text, ACKs, warnings, unmapped codes, resources produced
 *   POST   /admin/hl7/messages/{id}/$reprocess      apply one message again
 *   POST   /admin/hl7/$reprocess                    {"senderApplication", "senderFacility", "status": "failed"}
 *   GET    /admin/hl7/senders                       every sender's configuration
 *   GET|PUT|DELETE /admin/hl7/senders/{application}/{facility}
 *
 * There is no authentication yet (the SMART authorisation issue adds it for every API); deploy
 * behind a network boundary until then — docs/hl7-interface.md says so.
 */
import type { FastifyInstance } from 'fastify';
import type { Pool } from '../../db/pool.ts';
import { errors } from '../../fhir/index.ts';
import type { Hl7Processor } from '../process/processor.ts';
import { defaultSenderConfig, SenderConfigError } from '../senders/sender-config.ts';
import { listSenderConfigs, loadSenderConfig } from '../senders/sender-store.ts';
import type { SenderConfigs } from '../senders/sender-store.ts';
import { findMessages, messageDetail } from './message-query.ts';
import { reprocessMessage, reprocessSender } from './reprocess.ts';

export interface Hl7AdminOptions {
  pool: Pool;
  processor: Hl7Processor;
  senders: SenderConfigs;
}

function queryOf(url: string): URLSearchParams {
  const at = url.indexOf('?');
  return new URLSearchParams(at < 0 ? '' : url.slice(at + 1));
}

export function registerHl7AdminRoutes(app: FastifyInstance, options: Hl7AdminOptions): void {
  const { pool, processor, senders } = options;

  app.get('/admin/hl7/messages', async (req) => {
    const query = queryOf(req.url);
    const page = await findMessages(pool, query);
    let next: string | undefined;
    if (page.nextBefore) {
      query.set('before', page.nextBefore);
      next = `/admin/hl7/messages?${query.toString()}`;
    }
    return { messages: page.messages, next };
  });

  app.get<{ Params: { id: string } }>('/admin/hl7/messages/:id', async (req) => messageDetail(pool, req.params.id));

  app.post<{ Params: { id: string } }>('/admin/hl7/messages/:id/$reprocess', async (req) => {
    const result = await reprocessMessage(pool, processor, req.params.id);
    return { id: result.id, status: result.status, error: result.error };
  });

  app.post('/admin/hl7/$reprocess', async (req) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const application = body.senderApplication;
    const facility = body.senderFacility;
    const status = body.status ?? 'failed';
    if (typeof application !== 'string' || typeof facility !== 'string') {
      throw errors.hl7InvalidRequest('the body must name the sender: {"senderApplication": "HIS", "senderFacility": "XYZRMYY"}', ['senderApplication', 'senderFacility']);
    }
    if (status !== 'failed' && status !== 'processed') throw errors.hl7InvalidRequest(`status must be "failed" (default) or "processed", got ${JSON.stringify(status)}`, ['status']);
    return reprocessSender(pool, processor, { application, facility }, status);
  });

  app.get('/admin/hl7/senders', async () => ({ senders: await listSenderConfigs(pool) }));

  app.get<{ Params: { application: string; facility: string } }>('/admin/hl7/senders/:application/:facility', async (req) =>
    loadSenderConfig(pool, req.params.application, req.params.facility),
  );

  app.put<{ Params: { application: string; facility: string } }>('/admin/hl7/senders/:application/:facility', async (req) => {
    try {
      return await senders.save(req.params.application, req.params.facility, req.body);
    } catch (err) {
      if (err instanceof SenderConfigError) throw errors.hl7InvalidRequest(`sender configuration: ${err.message}`);
      throw err;
    }
  });

  app.delete<{ Params: { application: string; facility: string } }>('/admin/hl7/senders/:application/:facility', async (req, reply) => {
    const existed = await senders.delete(req.params.application, req.params.facility);
    if (!existed) return reply.code(404).send(errors.hl7InvalidRequest(`no configuration is stored for ${req.params.application}/${req.params.facility}`).outcome);
    return defaultSenderConfig(req.params.application, req.params.facility);
  });
}
