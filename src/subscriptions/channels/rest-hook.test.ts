import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DeliveryError, deliverRestHook, postNotification } from './rest-hook.ts';
import type { RestHookChannel } from '../subscription-model.ts';

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  socket: unknown;
}

const servers: http.Server[] = [];

async function receiver(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void, configure?: (s: http.Server) => void) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), socket: req.socket });
      answer(req, res);
    });
  });
  configure?.(server);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

const channel = (endpoint: string, extra: Partial<RestHookChannel> = {}): RestHookChannel => ({ type: 'rest-hook', endpoint, headers: [], ...extra }) as RestHookChannel;
const ok = (_req: http.IncomingMessage, res: http.ServerResponse) => res.writeHead(200).end('ignored body');

describe('rest-hook channel', () => {
  it('PUTs the payload to {endpoint}/{type}/{id} with the channel headers and an HMAC of the exact body', async () => {
    const r = await receiver(ok);
    const body = JSON.stringify({ resourceType: 'Observation', id: 'o 1', note: '血压 偏高' });
    await deliverRestHook(
      { channel: channel(`${r.url}/hook/`, { payload: 'application/fhir+json', headers: [['Authorization', 'Bearer t'], ['X-Tag', 'a'], ['X-Tag', 'b']] }), secret: 's3cret', resourceType: 'Observation', resourceId: 'o 1', body },
      2000,
    );
    const [got] = r.received;
    expect(got!.method).toBe('PUT');
    expect(got!.url).toBe('/hook/Observation/o%201');
    expect(got!.body).toBe(body);
    expect(got!.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
    expect(got!.headers.authorization).toBe('Bearer t');
    expect(got!.headers['x-tag']).toBe('a, b');
    expect(got!.headers['x-signature-256']).toBe(`sha256=${createHmac('sha256', 's3cret').update(Buffer.from(body, 'utf8')).digest('hex')}`);
  });

  it('POSTs an empty body without a payload, and no signature without a secret', async () => {
    const r = await receiver(ok);
    await deliverRestHook({ channel: channel(`${r.url}/hook`), secret: undefined, resourceType: 'Patient', resourceId: 'p1', body: undefined }, 2000);
    expect(r.received[0]).toMatchObject({ method: 'POST', url: '/hook', body: '' });
    expect(r.received[0]!.headers['content-length']).toBe('0');
    expect(r.received[0]!.headers['x-signature-256']).toBeUndefined();
  });

  it('fails on anything but 2xx, redirects included, naming the status', async () => {
    const r = await receiver((req, res) => (req.url === '/moved' ? res.writeHead(302, { location: '/elsewhere' }).end() : res.writeHead(503).end()));
    await expect(postNotification(channel(`${r.url}/down`), undefined, '{}', 2000)).rejects.toThrow(/POST http:\/\/127\.0\.0\.1:\d+\/down: HTTP 503/);
    await expect(postNotification(channel(`${r.url}/moved`), undefined, '{}', 2000)).rejects.toThrow(/HTTP 302/);
    expect(r.received.map((x) => x.url)).toEqual(['/down', '/moved']);
  });

  it('gives up on an endpoint that does not answer within the timeout', async () => {
    const r = await receiver(() => undefined); // never answers
    const started = Date.now();
    const error = await postNotification(channel(r.url), undefined, '{}', 300).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryError);
    expect((error as Error).message).toMatch(/no response within 300 ms/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('reports an endpoint nobody listens on', async () => {
    const r = await receiver(ok);
    const closed = servers.pop()!;
    await new Promise((resolve) => closed.close(resolve));
    await expect(postNotification(channel(r.url), undefined, '{}', 2000)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('reuses connections, and resends once when a kept-alive connection is reset under it', async () => {
    const steady = await receiver(ok);
    for (let i = 0; i < 10; i++) await postNotification(channel(steady.url), undefined, '{}', 2000);
    expect(new Set(steady.received.map((x) => x.socket)).size).toBe(1);

    // The receiver resets the first connection when it is reused (as one that timed it out
    // just then would): the notification goes again on a new connection and arrives.
    const seen = new Map<unknown, number>();
    const r = await receiver((req, res) => {
      const n = (seen.get(req.socket) ?? 0) + 1;
      seen.set(req.socket, n);
      if (seen.size === 1 && n === 2) req.socket.resetAndDestroy();
      else ok(req, res);
    });
    await postNotification(channel(r.url), undefined, '{"n":1}', 2000);
    await postNotification(channel(r.url), undefined, '{"n":2}', 2000);
    await postNotification(channel(r.url), undefined, '{"n":3}', 2000);
    expect(r.received.map((x) => x.body)).toEqual(['{"n":1}', '{"n":2}', '{"n":2}', '{"n":3}']);
    expect(seen.size).toBe(2);
  });
});
