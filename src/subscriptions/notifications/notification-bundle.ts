/**
 * Notification Bundles as the R5 Backport IG for R4 specifies them: a `history` Bundle whose first
 * entry is the subscription status (a `Parameters` resource, profile backport-subscription-status-r4,
 * its `request` the matching `$status` call), then — by payload content — nothing (`empty`), the
 * focus references (`id-only`) or the resources themselves and their additional context
 * (`full-resource`). Every entry carries `request` and `response` (bdl-3, bdl-4). Event numbers and
 * the event count are strings (R4 has no integer64).
 */
import type { Bundle, BundleEntry, Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import type { PayloadContent, SubscriptionStatus } from '../subscription-model.ts';

export type NotificationType = 'handshake' | 'heartbeat' | 'event-notification' | 'query-status' | 'query-event';

export const STATUS_PROFILE = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4';
export const NOTIFICATION_PROFILE = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-notification-r4';

export interface NotificationEvent {
  eventNumber: string;
  /** When the write happened. */
  timestamp: string;
  resourceType: string;
  resourceId: string;
  interaction: string;
  /** The resource as written (full-resource; absent for a delete). */
  resource?: Resource | undefined;
  /** Related resources sent along (full-resource), e.g. the patient of an encounter. */
  additionalContext?: Resource[] | undefined;
  /** References to those (id-only and full-resource). */
  additionalContextRefs?: string[] | undefined;
}

export interface StatusInput {
  /** The FHIR base URL (absolute). */
  baseUrl: string;
  subscriptionId: string;
  /** The topic's canonical URL (classic subscriptions have none). */
  topicUrl: string | undefined;
  status: SubscriptionStatus;
  type: NotificationType;
  eventsSinceStart: string;
  events: NotificationEvent[];
  content: PayloadContent;
  error?: string | undefined;
}

const REQUEST: Record<string, { method: 'POST' | 'PUT' | 'DELETE'; status: string }> = {
  create: { method: 'POST', status: '201' },
  update: { method: 'PUT', status: '200' },
  delete: { method: 'DELETE', status: '204' },
};

/** The subscription status resource (entry 0 of every notification, one entry of `$status`). */
export function subscriptionStatus(input: StatusInput): Parameters {
  const focusUrl = (e: NotificationEvent) => `${input.baseUrl}/${e.resourceType}/${e.resourceId}`;
  const parameter: ParametersParameter[] = [
    { name: 'subscription', valueReference: { reference: `${input.baseUrl}/Subscription/${input.subscriptionId}` } },
    ...(input.topicUrl ? [{ name: 'topic', valueCanonical: input.topicUrl }] : []),
    { name: 'status', valueCode: input.status },
    { name: 'type', valueCode: input.type },
    { name: 'events-since-subscription-start', valueString: input.eventsSinceStart },
    ...input.events.map(
      (e): ParametersParameter => ({
        name: 'notification-event',
        part: [
          { name: 'event-number', valueString: e.eventNumber },
          { name: 'timestamp', valueInstant: e.timestamp },
          ...(input.content === 'empty' ? [] : [{ name: 'focus', valueReference: { reference: focusUrl(e) } }]),
          ...(input.content === 'empty' ? [] : (e.additionalContextRefs ?? []).map((reference) => ({ name: 'additional-context', valueReference: { reference: `${input.baseUrl}/${reference}` } }))),
        ],
      }),
    ),
    ...(input.error ? [{ name: 'error', valueCodeableConcept: { text: input.error } }] : []),
  ];
  return { resourceType: 'Parameters', id: randomUUID(), meta: { profile: [STATUS_PROFILE] }, parameter };
}

/** The status entry: fullUrl urn:uuid, request = the `$status` call it answers. */
export function statusEntry(input: StatusInput): BundleEntry {
  const status = subscriptionStatus(input);
  return {
    fullUrl: `urn:uuid:${status.id}`,
    resource: status,
    request: { method: 'GET', url: `${input.baseUrl}/Subscription/${input.subscriptionId}/$status` },
    response: { status: '200' },
  };
}

/** A notification Bundle (handshake, heartbeat, event-notification, query-event). */
export function notificationBundle(input: StatusInput): Bundle {
  const entry: BundleEntry[] = [statusEntry(input)];
  if (input.content !== 'empty') {
    const seen = new Set<string>();
    for (const e of input.events) {
      const request = REQUEST[e.interaction] ?? REQUEST.update!;
      const key = `${e.resourceType}/${e.resourceId}`;
      entry.push({
        fullUrl: `${input.baseUrl}/${key}`,
        ...(input.content === 'full-resource' && e.resource ? { resource: e.resource } : {}),
        request: { method: request.method, url: e.interaction === 'create' ? e.resourceType : key },
        response: { status: request.status },
      });
      if (input.content !== 'full-resource') continue;
      for (const context of e.additionalContext ?? []) {
        const contextKey = `${context.resourceType}/${context.id}`;
        if (seen.has(contextKey)) continue;
        seen.add(contextKey);
        entry.push({ fullUrl: `${input.baseUrl}/${contextKey}`, resource: context, request: { method: 'GET', url: contextKey }, response: { status: '200' } });
      }
    }
  }
  return { resourceType: 'Bundle', id: randomUUID(), meta: { profile: [NOTIFICATION_PROFILE] }, type: 'history', timestamp: new Date().toISOString(), entry };
}
