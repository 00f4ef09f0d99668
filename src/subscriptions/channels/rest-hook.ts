/**
 * The rest-hook channel, as CareBridge's interface decisions fix it for R4 classic subscriptions
 * (http://hl7.org/fhir/R4/subscription.html#channels): without a payload, an empty POST to the
 * endpoint; with one, a PUT of the resource to `{endpoint}/{type}/{id}` in that MIME type.
 * `channel.header` lines are sent as headers; with a secret, `X-Signature-256: sha256=<hex HMAC of
 * the exact body>` lets the receiver authenticate CareBridge. Anything but a 2xx within the
 * timeout is a failure (redirects are not followed). Topic-based subscriptions (Backport IG) POST
 * a notification Bundle to the endpoint instead, with the same headers and signature.
 */
import { createHmac } from 'node:crypto';
import type { RestHookChannel } from '../subscription-model.ts';

export interface RestHookDelivery {
  channel: RestHookChannel;
  /** HMAC-SHA256 key for X-Signature-256, when the subscription has one. */
  secret: string | undefined;
  resourceType: string;
  resourceId: string;
  /** The resource JSON, when the channel sends a payload. */
  body: string | undefined;
}

export class DeliveryError extends Error {}

export async function deliverRestHook(d: RestHookDelivery, timeoutMs: number): Promise<void> {
  const channel = d.channel;
  const withPayload = channel.payload !== undefined;
  const url = withPayload ? `${channel.endpoint.replace(/\/+$/, '')}/${d.resourceType}/${encodeURIComponent(d.resourceId)}` : channel.endpoint;
  await send(channel, d.secret, withPayload ? 'PUT' : 'POST', url, withPayload ? (d.body ?? '') : undefined, timeoutMs);
}

/** POSTs a notification Bundle (JSON text) to a topic-based subscription's endpoint. */
export async function postNotification(channel: RestHookChannel, secret: string | undefined, bundle: string, timeoutMs: number): Promise<void> {
  await send(channel, secret, 'POST', channel.endpoint, bundle, timeoutMs);
}

async function send(channel: RestHookChannel, secret: string | undefined, method: 'POST' | 'PUT', url: string, body: string | undefined, timeoutMs: number): Promise<void> {
  const headers = new Headers();
  for (const [name, value] of channel.headers) headers.append(name, value);
  if (body !== undefined) headers.set('content-type', `${channel.payload ?? 'application/fhir+json'}; charset=utf-8`);
  if (secret) headers.set('x-signature-256', `sha256=${createHmac('sha256', secret).update(body ?? '', 'utf8').digest('hex')}`);
  let response: Response;
  try {
    response = await fetch(url, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    const reason = (err as Error).name === 'TimeoutError' ? `no response within ${timeoutMs} ms` : (cause ?? (err as Error).message);
    throw new DeliveryError(`${method} ${url}: ${reason}`);
  }
  await response.body?.cancel().catch(() => undefined);
  if (response.status < 200 || response.status > 299) throw new DeliveryError(`${method} ${url}: HTTP ${response.status}`);
}
