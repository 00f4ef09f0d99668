/**
 * Subscriptions as the engine uses them, checked once so the engine never has to wonder: R4
 * classic ones (http://hl7.org/fhir/R4/subscription.html: the criteria is a search) and
 * topic-based ones (R5 Backport IG for R4: the criteria is a topic's canonical URL, with the IG's
 * extensions for filters, payload content, heartbeat, timeout and batch size), the channel and
 * CareBridge's extensions. What cannot be honoured is a problem with a reason — refused when
 * written, or put in Subscription.error.
 */
import { parseSearchRequest } from '@medplum/core';
import type { SearchRequest } from '@medplum/core';
import type { Extension, Subscription } from '@medplum/fhirtypes';
import { topicByUrl, TOPICS } from './topics/catalog.ts';
import type { Topic } from './topics/catalog.ts';

export const RETRY_HORIZON_EXTENSION = 'https://carebridge.dev/fhir/StructureDefinition/subscription-retry-horizon';
export const SECRET_EXTENSION = 'https://carebridge.dev/fhir/StructureDefinition/subscription-secret';

export type SubscriptionStatus = 'requested' | 'active' | 'error' | 'off';

const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';
export const BACKPORT_EXTENSIONS = {
  filterCriteria: `${BACKPORT}/backport-filter-criteria`,
  payloadContent: `${BACKPORT}/backport-payload-content`,
  heartbeatPeriod: `${BACKPORT}/backport-heartbeat-period`,
  timeout: `${BACKPORT}/backport-timeout`,
  maxCount: `${BACKPORT}/backport-max-count`,
  channelType: `${BACKPORT}/backport-channel-type`,
} as const;

export type PayloadContent = 'empty' | 'id-only' | 'full-resource';

/** What a topic-based subscription adds: its topic and the IG's channel settings. */
export interface TopicBinding {
  topic: Topic;
  /** backport-filter-criteria, each parsed as a search on the topic's type; all must pass. */
  filters: SearchRequest[];
  content: PayloadContent;
  /** Seconds without a notification after which a heartbeat is sent (undefined: none). */
  heartbeatSeconds: number | undefined;
  /** Seconds a delivery may take (backport-timeout), else the server's delivery timeout. */
  timeoutSeconds: number | undefined;
  /** Events per notification bundle (backport-max-count, default 1). */
  maxCount: number;
}

export interface ServedSubscription {
  id: string;
  status: SubscriptionStatus;
  /** `Observation?code=…` split into its type and search parameters (a topic's: its type, no parameters). */
  criteria: { resourceType: string; params: URLSearchParams };
  /** Present for topic-based subscriptions. */
  topic?: TopicBinding | undefined;
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
  /**
   * Events handled at once (default 1: strictly in event order). Above 1, the order holds per
   * `orderKey` (default: the resource), and events of different keys run side by side.
   */
  concurrency?: number;
  orderKey?: (event: InternalEvent) => string;
  /**
   * With concurrency above 1: one call for all of a key's events in a batch (in event order)
   * instead of one per event, so a subscriber can share work between them (a patient's records
   * read once for several readings). When it throws, the key's first event is retried with
   * backoff and the later ones are given back: the whole group runs again, so it must be
   * idempotent as a whole.
   */
  handleGroup?: (events: InternalEvent[]) => Promise<void>;
}

export type InternalOptions = Pick<InternalChannel, 'concurrency' | 'orderKey' | 'handleGroup'>;

export type ParsedSubscription = { ok: true; subscription: ServedSubscription } | { ok: false; problem: string };

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
  let base: Pick<ServedSubscription, 'id' | 'status' | 'criteria' | 'topic'>;
  if (/^(https?:|urn:)/.test(criteria)) {
    const topic = parseTopicBinding(resource, criteria, checkSearch);
    if (!topic.ok) return topic;
    base = { id, status: resource.status as SubscriptionStatus, criteria: { resourceType: topic.binding.topic.resourceType, params: new URLSearchParams() }, topic: topic.binding };
  } else {
    const q = criteria.indexOf('?');
    const type = q < 0 ? criteria : criteria.slice(0, q);
    if (!isResourceType(type)) return { ok: false, problem: `criteria must start with a resource type, e.g. Observation?code=…; got "${criteria}"` };
    const params = new URLSearchParams(q < 0 ? '' : criteria.slice(q + 1));
    const searchProblem = checkSearch(type, params);
    if (searchProblem) return { ok: false, problem: `criteria: ${searchProblem}` };
    if (primitiveExtensions(resource, 'channel', 'type').length) return { ok: false, problem: 'a custom channel type (backport-channel-type) is not supported; use rest-hook or websocket' };
    base = { id, status: resource.status as SubscriptionStatus, criteria: { resourceType: type, params } };
  }
  const channel = resource.channel;
  const horizon = resource.extension?.find((e) => e.url === RETRY_HORIZON_EXTENSION)?.valueInteger;
  if (horizon !== undefined && (!Number.isInteger(horizon) || horizon < 1)) return { ok: false, problem: 'the retry-horizon extension must be a positive number of seconds' };
  if (channel?.type === 'websocket') {
    if (channel.payload && !base.topic) return { ok: false, problem: 'a websocket channel carries no payload (clients get "ping {id}" and read the data over REST); leave channel.payload empty' };
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
  let payload = channel.payload?.split(';')[0]?.trim().toLowerCase() || undefined;
  if (payload !== undefined && !JSON_PAYLOADS.has(payload)) return { ok: false, problem: `channel.payload "${channel.payload}" is not supported; use application/fhir+json (or none)` };
  // A topic-based rest-hook always POSTs a notification Bundle (JSON).
  if (base.topic) payload ??= 'application/fhir+json';
  const secret = resource.extension?.find((e) => e.url === SECRET_EXTENSION)?.valueString;
  return {
    ok: true,
    subscription: {
      ...base,
      channel: { type: 'rest-hook', endpoint: endpoint.toString(), headers, payload: payload && (channel.payload || payload) },
      retryHorizonSeconds: horizon,
      secret: secret || undefined,
    },
  };
}

/** Extensions on a primitive (`_criteria`, `channel._payload`), which the typed resource leaves out. */
function primitiveExtensions(resource: Subscription, ...path: string[]): Extension[] {
  let node: unknown = resource;
  for (const [k, key] of path.entries()) {
    if (node === null || typeof node !== 'object') return [];
    node = (node as Record<string, unknown>)[k === path.length - 1 ? `_${key}` : key];
  }
  const extensions = (node as { extension?: unknown } | undefined)?.extension;
  return Array.isArray(extensions) ? (extensions as Extension[]) : [];
}

const ALLOWED_FILTER_MODIFIERS = new Set(['', 'not']);
const MAX_COUNT_LIMIT = 100;

/** The topic, filters and channel settings of a topic-based (Backport IG) subscription. */
function parseTopicBinding(
  resource: Subscription,
  criteria: string,
  checkSearch: (type: string, params: URLSearchParams) => string | undefined,
): { ok: true; binding: TopicBinding } | { ok: false; problem: string } {
  const topic = topicByUrl(criteria);
  if (!topic) return { ok: false, problem: `topic ${criteria} is not served here; topics: ${TOPICS.map((t) => t.url).join(', ')}` };
  const filters: SearchRequest[] = [];
  for (const extension of primitiveExtensions(resource, 'criteria')) {
    if (extension.url !== BACKPORT_EXTENSIONS.filterCriteria) continue;
    const text = (extension.valueString ?? '').trim();
    const q = text.indexOf('?');
    const type = q < 0 ? undefined : text.slice(0, q);
    if (type !== undefined && type !== topic.resourceType) return { ok: false, problem: `filter "${text}" is on ${type}, but topic ${topic.url} is about ${topic.resourceType}` };
    const params = new URLSearchParams(q < 0 ? text : text.slice(q + 1));
    if (![...params.keys()].length) return { ok: false, problem: `filter "${text}" has no parameter; use e.g. ${topic.resourceType}?${topic.canFilterBy[0]!.parameter}=…` };
    for (const name of params.keys()) {
      const [parameter = '', modifier = ''] = name.split(':');
      if (!topic.canFilterBy.some((f) => f.parameter === parameter)) return { ok: false, problem: `topic ${topic.url} cannot be filtered by "${parameter}"; it can by: ${topic.canFilterBy.map((f) => f.parameter).join(', ')}` };
      if (!ALLOWED_FILTER_MODIFIERS.has(modifier)) return { ok: false, problem: `filter modifier ":${modifier}" is not supported (only :not)` };
    }
    const problem = checkSearch(topic.resourceType, params);
    if (problem) return { ok: false, problem: `filter "${text}": ${problem}` };
    filters.push(parseSearchRequest(`${topic.resourceType}?${params.toString()}`));
  }
  const channelExtensions = resource.channel?.extension ?? [];
  const unsigned = (url: string, name: string, min: number, max: number): number | undefined | string => {
    const e = channelExtensions.find((x) => x.url === url);
    if (!e) return undefined;
    const value = e.valueUnsignedInt ?? e.valuePositiveInt ?? e.valueInteger;
    if (value === undefined || !Number.isInteger(value) || value < min || value > max) return `${name} must be a whole number from ${min} to ${max}`;
    return value;
  };
  const heartbeat = unsigned(BACKPORT_EXTENSIONS.heartbeatPeriod, 'backport-heartbeat-period (seconds)', 1, 86_400);
  const timeout = unsigned(BACKPORT_EXTENSIONS.timeout, 'backport-timeout (seconds)', 1, 300);
  const maxCount = unsigned(BACKPORT_EXTENSIONS.maxCount, 'backport-max-count', 1, MAX_COUNT_LIMIT);
  for (const value of [heartbeat, timeout, maxCount]) if (typeof value === 'string') return { ok: false, problem: value };
  const contentExtension = primitiveExtensions(resource, 'channel', 'payload').find((e) => e.url === BACKPORT_EXTENSIONS.payloadContent);
  const content = contentExtension ? contentExtension.valueCode : 'id-only';
  if (content !== 'empty' && content !== 'id-only' && content !== 'full-resource') return { ok: false, problem: `payload content "${content ?? ''}" is not supported; use empty, id-only or full-resource` };
  if (primitiveExtensions(resource, 'channel', 'type').length) {
    const custom = primitiveExtensions(resource, 'channel', 'type').find((e) => e.url === BACKPORT_EXTENSIONS.channelType)?.valueCoding?.code ?? '?';
    return { ok: false, problem: `channel type "${custom}" (backport-channel-type) is not supported; use rest-hook or websocket` };
  }
  return { ok: true, binding: { topic, filters, content, heartbeatSeconds: heartbeat as number | undefined, timeoutSeconds: timeout as number | undefined, maxCount: (maxCount as number | undefined) ?? 1 } };
}
