/**
 * What clients may write in a Subscription (R4 subscription.html, "Subscription status"): they
 * create it `requested` (or `off`) and may set `requested` or `off` later; `active` and `error`
 * are the server's to set. A subscription the engine cannot serve (unsupported channel, payload,
 * topic, or a criteria that is not a valid search) is refused when written, with the reason, rather
 * than accepted and left to fail. The engine writes status changes through a store without these
 * rules.
 */
import type { Resource, Subscription } from '@medplum/fhirtypes';
import { ErrorCode, FhirError, isResourceType, issue, searchProblem } from '../fhir/index.ts';
import { parseSubscription } from './subscription-model.ts';

const CLIENT_STATUSES = new Set(['requested', 'off']);

function refuse(text: string, expression: string): FhirError {
  return new FhirError({ resourceType: 'OperationOutcome', issue: [issue('business-rule', ErrorCode.INVALID_RESOURCE, text, [expression])] });
}

/** The store's checkWrite hook for Subscriptions, with the operator's endpoint allow-list. */
export function subscriptionWriteRules(allowEndpoints: readonly string[]): (resource: Resource, current: Resource | undefined) => void {
  return (resource, current) => checkSubscriptionWrite(resource, current, allowEndpoints);
}

export function checkSubscriptionWrite(resource: Resource, current: Resource | undefined, allowEndpoints: readonly string[] = []): void {
  if (resource.resourceType !== 'Subscription') return;
  const sub = resource as Subscription;
  const before = (current as Subscription | undefined)?.status;
  if (!CLIENT_STATUSES.has(sub.status) && sub.status !== before) {
    throw refuse(`Subscription.status "${sub.status}" is set by the server; create a subscription as "requested" (or "off"), and set "requested" to reactivate one`, 'Subscription.status');
  }
  if (sub.status === 'off') return;
  const parsed = parseSubscription(sub, isResourceType, searchProblem, allowEndpoints);
  if (!parsed.ok) throw refuse(`this subscription cannot be served: ${parsed.problem}`, 'Subscription');
}
