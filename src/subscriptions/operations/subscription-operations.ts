/**
 * The Backport IG's Subscription operations, served by the FHIR API (registered as extra
 * operations of the FHIR module):
 *
 * - `$status` (GET/POST; instance, or type-level with `id` parameters): a `searchset` Bundle of
 *   subscription status Parameters (type `query-status`);
 * - `$events` (GET/POST; instance): the stored notifications of a range of event numbers
 *   (`eventsSinceNumber`, `eventsUntilNumber`, inclusive; at most 1,000 a call) as a notification
 *   Bundle (type `query-event`), in the subscription's payload content or `content` if given —
 *   how a receiver that saw a gap in event numbers, or a websocket client that reconnects, catches up;
 * - `$get-ws-binding-token` (GET/POST; instance, or type-level with `id`): a token for
 *   `bind-with-token` on the websocket, with its expiry and the websocket URL.
 *
 * Classic subscriptions answer `$status` and `$events` too (without a topic).
 */
import type { Bundle, Parameters, Subscription } from '@medplum/fhirtypes';
import type { Pool } from '../../db/pool.ts';
import { errors, FhirError, isResourceType, operationInputs as inputs, searchProblem, singleInput as one } from '../../fhir/index.ts';
import type { ExtraOperation, FhirRequest, FhirResponse, FhirStore, RestContext } from '../../fhir/index.ts';
import { issueBindingToken } from '../channels/ws-tokens.ts';
import { loadEvents, NOTIFICATION_COLUMNS } from '../notifications/events.ts';
import type { NotificationRow } from '../notifications/events.ts';
import { notificationBundle, statusEntry } from '../notifications/notification-bundle.ts';
import { parseSubscription } from '../subscription-model.ts';
import type { PayloadContent, SubscriptionStatus, TopicBinding } from '../subscription-model.ts';
import { topicByUrl } from '../topics/catalog.ts';

const DEFINITION = 'http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition';
export const MAX_EVENTS_PER_CALL = 1000;

export interface OperationDeps {
  pool: Pool;
  /** Path of the websocket endpoint, when the engine serves one. */
  websocketPath: string | undefined;
}

async function readSubscription(store: FhirStore, id: string): Promise<Subscription & { id: string }> {
  const version = await store.read('Subscription', id);
  return JSON.parse(version.content as string) as Subscription & { id: string };
}

/** The topic binding of a subscription (undefined for classic ones or ones that cannot be served). */
function bindingOf(resource: Subscription): TopicBinding | undefined {
  const parsed = parseSubscription({ ...resource, status: 'active' }, isResourceType, searchProblem);
  return parsed.ok ? parsed.subscription.topic : undefined;
}

async function eventCount(pool: Pool, id: string): Promise<string> {
  return (await pool.query<{ n: string }>('SELECT events_since_start::text AS n FROM subscription_state WHERE subscription_id = $1', [id])).rows[0]?.n ?? '0';
}

const json = (body: unknown): FhirResponse => ({ status: 200, body: JSON.stringify(body) });

function ids(req: FhirRequest, instanceId: string | undefined): string[] {
  if (instanceId) return [instanceId];
  const found = (inputs(req).get('id') ?? []).map((id) => id.replace(/^Subscription\//, ''));
  if (!found.length) throw errors.invalidOperationParameter('name the subscriptions with id (repeat it, or separate ids with commas)', ['id']);
  if (found.length > 100) throw errors.invalidOperationParameter('at most 100 subscriptions a call', ['id']);
  return found;
}

async function status(deps: OperationDeps, ctx: RestContext, req: FhirRequest, instanceId: string | undefined): Promise<FhirResponse> {
  const entries = [];
  for (const id of ids(req, instanceId)) {
    let resource: Subscription & { id: string };
    try {
      resource = await readSubscription(ctx.store, id);
    } catch (err) {
      // Type-level: unknown ids are left out (a searchset of what exists); instance-level: 404.
      if (instanceId || !(err instanceof FhirError)) throw err;
      continue;
    }
    const entry = statusEntry({
      baseUrl: ctx.baseUrl,
      subscriptionId: id,
      topicUrl: topicByUrl(resource.criteria ?? '')?.url,
      status: resource.status as SubscriptionStatus,
      type: 'query-status',
      eventsSinceStart: await eventCount(deps.pool, id),
      events: [],
      content: 'empty',
      error: resource.status === 'error' ? resource.error : undefined,
    });
    entries.push({ fullUrl: entry.fullUrl, resource: entry.resource, search: { mode: 'match' as const } });
  }
  const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', total: entries.length, entry: entries };
  return json(bundle);
}

function eventNumber(found: Map<string, string[]>, name: string): bigint | undefined {
  const value = one(found, name);
  if (value === undefined) return undefined;
  if (!/^\d{1,18}$/.test(value)) throw errors.invalidOperationParameter(`${name} must be an event number (a whole number), got "${value}"`, [name]);
  return BigInt(value);
}

async function events(deps: OperationDeps, ctx: RestContext, req: FhirRequest, id: string | undefined): Promise<FhirResponse> {
  const resource = await readSubscription(ctx.store, id!);
  const found = inputs(req);
  const binding = bindingOf(resource);
  const content = one(found, 'content') ?? binding?.content ?? 'id-only';
  if (content !== 'empty' && content !== 'id-only' && content !== 'full-resource') throw errors.invalidOperationParameter(`content must be empty, id-only or full-resource, got "${content}"`, ['content']);
  const total = BigInt(await eventCount(deps.pool, resource.id));
  const since = eventNumber(found, 'eventsSinceNumber') ?? 1n;
  let until = eventNumber(found, 'eventsUntilNumber') ?? total;
  if (until < since) throw errors.invalidOperationParameter(`eventsUntilNumber (${until}) is before eventsSinceNumber (${since})`, ['eventsUntilNumber']);
  // A bounded answer: a client pages by asking again from the next number.
  if (until - since + 1n > BigInt(MAX_EVENTS_PER_CALL)) until = since + BigInt(MAX_EVENTS_PER_CALL) - 1n;
  const { rows } = await deps.pool.query<NotificationRow>(
    `SELECT ${NOTIFICATION_COLUMNS} FROM subscription_notification WHERE subscription_id = $1 AND event_number BETWEEN $2::bigint AND $3::bigint ORDER BY subscription_notification.event_number`,
    [resource.id, String(since), String(until)],
  );
  const loaded = await loadEvents(ctx.store, rows, binding, content as PayloadContent);
  return json(
    notificationBundle({
      baseUrl: ctx.baseUrl,
      subscriptionId: resource.id,
      topicUrl: binding?.topic.url,
      status: resource.status as SubscriptionStatus,
      type: 'query-event',
      eventsSinceStart: String(total),
      events: loaded,
      content: content as PayloadContent,
    }),
  );
}

function websocketUrl(baseUrl: string, path: string): string {
  const url = new URL(baseUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = path;
  url.search = '';
  return url.toString();
}

async function bindingToken(deps: OperationDeps, ctx: RestContext, req: FhirRequest, instanceId: string | undefined): Promise<FhirResponse> {
  if (!deps.websocketPath) throw errors.unsupportedOperation('this server runs no subscription engine, so it serves no websocket (SUBSCRIPTION_ENGINE=off)');
  const wanted = ids(req, instanceId);
  for (const id of wanted) {
    const resource = await readSubscription(ctx.store, id);
    if (resource.channel?.type !== 'websocket') throw errors.invalidOperationParameter(`Subscription/${id} has channel type ${resource.channel?.type ?? 'none'}; binding tokens are for websocket subscriptions`, ['id']);
    if (!topicByUrl(resource.criteria ?? '')) throw errors.invalidOperationParameter(`Subscription/${id} is a classic subscription: bind it with "bind ${id}" on the websocket, no token needed`, ['id']);
    if (resource.status === 'off') throw errors.invalidOperationParameter(`Subscription/${id} is off; set it to requested first`, ['id']);
  }
  const { token, expiresAt } = await issueBindingToken(deps.pool, wanted);
  const parameters: Parameters = {
    resourceType: 'Parameters',
    parameter: [
      { name: 'token', valueString: token },
      { name: 'expiration', valueDateTime: expiresAt },
      ...wanted.map((id) => ({ name: 'subscription', valueString: id })),
      { name: 'websocket-url', valueUrl: websocketUrl(ctx.baseUrl, deps.websocketPath) },
    ],
  };
  return json(parameters);
}

export function subscriptionOperations(deps: OperationDeps): ExtraOperation[] {
  const op = (name: string, definition: string, typeLevel: boolean, run: (ctx: RestContext, req: FhirRequest, id: string | undefined) => Promise<FhirResponse>): ExtraOperation => ({
    resourceType: 'Subscription',
    name,
    definition: `${DEFINITION}/${definition}`,
    typeLevel,
    instanceLevel: true,
    methods: ['GET', 'POST'],
    run,
  });
  return [
    op('status', 'backport-subscription-status', true, (ctx, req, id) => status(deps, ctx, req, id)),
    op('events', 'backport-subscription-events', false, (ctx, req, id) => events(deps, ctx, req, id)),
    op('get-ws-binding-token', 'backport-subscription-get-ws-binding-token', true, (ctx, req, id) => bindingToken(deps, ctx, req, id)),
  ];
}
