/**
 * R4 classic Subscriptions (http://hl7.org/fhir/R4/subscription.html) as the engine uses them:
 * the criteria search, the channel and CareBridge's extensions, checked once so the engine never
 * has to wonder. What cannot be honoured is a problem with a reason, put in Subscription.error.
 */
import type { Subscription } from '@medplum/fhirtypes';

export const RETRY_HORIZON_EXTENSION = 'https://carebridge.dev/fhir/StructureDefinition/subscription-retry-horizon';
export const SECRET_EXTENSION = 'https://carebridge.dev/fhir/StructureDefinition/subscription-secret';

export type SubscriptionStatus = 'requested' | 'active' | 'error' | 'off';

export interface ClassicSubscription {
  id: string;
  status: SubscriptionStatus;
  /** `Observation?code=…` split into its type and search parameters. */
  criteria: { resourceType: string; params: URLSearchParams };
  channel: RestHookChannel | WebsocketChannel | InternalChannel;
  /** Seconds of failed delivery after which the subscription goes to error (extension). */
  retryHorizonSeconds: number | undefined;
  /** HMAC-SHA256 key for the X-Signature-256 header (extension). */
  secret: string | undefined;
}

export interface RestHookChannel {
  type: 'rest-hook';
  endpoint: string;
  /** `channel.header` lines as name/value pairs. */
  headers: Array<[string, string]>;
  /** MIME type of the payload; undefined: notify with an empty POST. */
  payload: string | undefined;
}

/** R4 classic websocket: clients bind to the subscription and get `ping {id}` per notification. */
export interface WebsocketChannel {
  type: 'websocket';
}

/** An event as an internal subscriber receives it (at least once: handlers must be idempotent by eventId). */
export interface InternalEvent {
  subscriber: string;
  /** Gap-free, monotonic per subscriber. */
  eventNumber: number;
  /** The outbox event id: the same on a repeated delivery. */
  eventId: string;
  resourceType: string;
  resourceId: string;
  versionId: number;
  interaction: string;
  /** The resource as written in that version. */
  resource: unknown;
}

/** A TypeScript handler inside CareBridge, run in the same at-least-once, in-order machinery. */
export interface InternalChannel {
  type: 'internal';
  handle: (event: InternalEvent) => Promise<void>;
}

export type ParsedSubscription = { ok: true; subscription: ClassicSubscription } | { ok: false; problem: string };

const JSON_PAYLOADS = new Set(['application/fhir+json', 'application/json']);

/**
 * Endpoints an operator allows (SUBSCRIPTION_ENDPOINT_ALLOW: URL prefixes); empty: any http(s)
 * endpoint, loopback and plain HTTP included — production deployments should set it.
 */
export function endpointProblem(endpoint: string, allow: readonly string[]): string | undefined {
  if (!allow.length || allow.some((prefix) => endpoint.startsWith(prefix))) return undefined;
  return `channel.endpoint ${endpoint} is not allowed on this server (allowed: ${allow.join(', ')})`;
}

/** Checks a Subscription resource; `isResourceType` and `checkSearch` come from the FHIR module. */
export function parseSubscription(
  resource: Subscription,
  isResourceType: (type: string) => boolean,
  checkSearch: (type: string, params: URLSearchParams) => string | undefined,
  allowEndpoints: readonly string[] = [],
): ParsedSubscription {
  const id = resource.id ?? '';
  const criteria = (resource.criteria ?? '').trim();
  if (/^(https?:|urn:)/.test(criteria)) return { ok: false, problem: `topic-based subscriptions (criteria ${criteria}) are not supported yet; use a search such as Observation?code=…` };
  const q = criteria.indexOf('?');
  const type = q < 0 ? criteria : criteria.slice(0, q);
  if (!isResourceType(type)) return { ok: false, problem: `criteria must start with a resource type, e.g. Observation?code=…; got "${criteria}"` };
  const params = new URLSearchParams(q < 0 ? '' : criteria.slice(q + 1));
  const searchProblem = checkSearch(type, params);
  if (searchProblem) return { ok: false, problem: `criteria: ${searchProblem}` };
  const channel = resource.channel;
  const base = { id, status: resource.status as SubscriptionStatus, criteria: { resourceType: type, params } };
  const horizon = resource.extension?.find((e) => e.url === RETRY_HORIZON_EXTENSION)?.valueInteger;
  if (horizon !== undefined && (!Number.isInteger(horizon) || horizon < 1)) return { ok: false, problem: 'the retry-horizon extension must be a positive number of seconds' };
  if (channel?.type === 'websocket') {
    if (channel.payload) return { ok: false, problem: 'a websocket channel carries no payload (clients get "ping {id}" and read the data over REST); leave channel.payload empty' };
    return { ok: true, subscription: { ...base, channel: { type: 'websocket' }, retryHorizonSeconds: horizon, secret: undefined } };
  }
  if (channel?.type !== 'rest-hook') return { ok: false, problem: `channel type "${channel?.type ?? ''}" is not supported; use rest-hook or websocket` };
  let endpoint: URL;
  try {
    endpoint = new URL(channel.endpoint ?? '');
  } catch {
    return { ok: false, problem: `channel.endpoint "${channel.endpoint ?? ''}" is not an absolute URL` };
  }
  if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') return { ok: false, problem: `channel.endpoint must be http or https, got ${endpoint.protocol}` };
  const notAllowed = endpointProblem(endpoint.toString(), allowEndpoints);
  if (notAllowed) return { ok: false, problem: notAllowed };
  const headers: Array<[string, string]> = [];
  for (const line of channel.header ?? []) {
    const colon = line.indexOf(':');
    const name = colon < 0 ? '' : line.slice(0, colon).trim();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) return { ok: false, problem: `channel.header "${line}" is not "Name: value"` };
    headers.push([name, line.slice(colon + 1).trim()]);
  }
  const payload = channel.payload?.split(';')[0]?.trim().toLowerCase() || undefined;
  if (payload !== undefined && !JSON_PAYLOADS.has(payload)) return { ok: false, problem: `channel.payload "${channel.payload}" is not supported; use application/fhir+json (or none)` };
  const secret = resource.extension?.find((e) => e.url === SECRET_EXTENSION)?.valueString;
  return {
    ok: true,
    subscription: {
      ...base,
      channel: { type: 'rest-hook', endpoint: endpoint.toString(), headers, payload: payload && (channel.payload ?? payload) },
      retryHorizonSeconds: horizon,
      secret: secret || undefined,
    },
  };
}
