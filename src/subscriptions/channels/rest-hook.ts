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
import http from 'node:http';
import https from 'node:https';
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

// Keep-alive agents: deliveries reuse connections instead of opening one per notification.
// node:http rather than fetch: at thousands of deliveries per second fetch's per-request stream
// and AbortSignal machinery cost several times more CPU. No socket limit per host: the engine
// bounds concurrency, and a hanging endpoint must not hold the sockets another subscription on
// the same host needs.
const agents = {
  'http:': new http.Agent({ keepAlive: true }),
  'https:': new https.Agent({ keepAlive: true }),
};

async function send(channel: RestHookChannel, secret: string | undefined, method: 'POST' | 'PUT', url: string, body: string | undefined, timeoutMs: number): Promise<void> {
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of channel.headers) {
    const key = name.toLowerCase();
    const previous = headers[key];
    headers[key] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [String(previous)]), value];
  }
  const payload = body === undefined ? undefined : Buffer.from(body, 'utf8');
  if (payload) headers['content-type'] = `${channel.payload ?? 'application/fhir+json'}; charset=utf-8`;
  headers['content-length'] = payload?.length ?? 0;
  if (secret) headers['x-signature-256'] = `sha256=${createHmac('sha256', secret).update(payload ?? '').digest('hex')}`;
  try {
    await request(method, url, headers, payload, timeoutMs);
  } catch (err) {
    // A kept-alive connection the receiver closed just as we reused it: the request never
    // reached it, so sending it again on a new connection is safe.
    if (!(err instanceof StaleConnection)) throw err;
    await request(method, url, headers, payload, timeoutMs);
  }
}

function request(method: string, url: string, headers: http.OutgoingHttpHeaders, payload: Buffer | undefined, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      reject(new DeliveryError(`${method} ${url}: not a valid URL`));
      return;
    }
    const agent = agents[target.protocol as keyof typeof agents];
    if (!agent) {
      reject(new DeliveryError(`${method} ${url}: unsupported scheme ${target.protocol}`));
      return;
    }
    let timedOut = false;
    const fail = (reason: string) => reject(new DeliveryError(`${method} ${url}: ${timedOut ? `no response within ${timeoutMs} ms` : reason}`));
    let req: http.ClientRequest;
    try {
      req = (target.protocol === 'https:' ? https : http).request(target, { method, headers, agent }, (response) => {
        // The body is not used; read it to the end so the connection can be reused.
        response.resume();
        response.on('end', () => {
          clearTimeout(timer);
          const status = response.statusCode ?? 0;
          if (status < 200 || status > 299) fail(`HTTP ${status}`);
          else resolve();
        });
        response.on('error', (err) => fail(err.message));
      });
    } catch (err) {
      fail((err as Error).message); // e.g. a header value with characters HTTP does not allow
      return;
    }
    const timer = setTimeout(() => {
      timedOut = true;
      req.destroy();
    }, timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (!timedOut && req.reusedSocket && err.code === 'ECONNRESET') reject(new StaleConnection());
      else fail(err.code ?? err.message);
    });
    req.end(payload);
  });
}

class StaleConnection extends Error {}
