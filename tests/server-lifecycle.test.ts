// Operations: /healthz, /readyz, /metrics (Prometheus), graceful stop with requests in flight,
// and malformed HTTP answered with an OperationOutcome.
import net from 'node:net';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startTestServer, useTestServer } from './helpers/server.ts';

const server = useTestServer();

describe('health and readiness', () => {
  it('answers /healthz and /readyz when the database is reachable and migrated', async () => {
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });
});

describe('metrics', () => {
  it('counts requests and latency by interaction and resource type, and reports pool usage', async () => {
    const created = await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Patient', active: true } });
    await server.fhir(`Patient/${created.body.id}`);
    await server.fhir('Patient/missing-one');
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/carebridge_http_requests_total\{interaction="create",resource_type="Patient",status="201"\} 1/);
    expect(text).toMatch(/carebridge_http_requests_total\{interaction="read",resource_type="Patient",status="200"\} 1/);
    expect(text).toMatch(/carebridge_http_requests_total\{interaction="read",resource_type="Patient",status="404"\} 1/);
    expect(text).toMatch(/carebridge_http_request_duration_seconds_bucket\{le="0.1",interaction="read",resource_type="Patient"\} 2/);
    expect(text).toMatch(/carebridge_db_pool_connections \d+/);
    expect(text).toMatch(/carebridge_db_pool_waiting 0/);
    expect(text).toMatch(/process_resident_memory_bytes/);
  });
});

describe('malformed HTTP', () => {
  it('answers raw non-ASCII in the URL with a 400 OperationOutcome explaining percent-encoding', async () => {
    const port = new URL(server.url).port;
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => {
        socket.write(Buffer.concat([Buffer.from('GET /fhir/Patient?name='), Buffer.from('张', 'utf8'), Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')]));
      });
      let data = '';
      socket.on('data', (d) => (data += d.toString('utf8')));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(reply).toMatch(/^HTTP\/1.1 400 /);
    const body = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4));
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue[0].details.coding[0].code).toBe('CB_ERR_MALFORMED_REQUEST');
  });

  it('answers paths outside /fhir with a 404 OperationOutcome', async () => {
    const res = await fetch(`${server.url}/nothing-here`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as any).resourceType).toBe("OperationOutcome");
  });
});

describe('graceful stop', () => {
  it('finishes requests in flight, then refuses new ones and closes the pool', async () => {
    const own = await startTestServer();
    const bundle = fs.readFileSync(new URL('./fixtures/synthea/Barry_Wolf_f0c0c377-be9c-4ca2-97c0-7cef574bdb45.json', import.meta.url), 'utf8');
    const inFlight = fetch(`${own.fhirBaseUrl}`, { method: 'POST', headers: { 'content-type': 'application/fhir+json', prefer: 'return=minimal' }, body: bundle });
    // Stop once the request is being processed — its first queries are running on this test's
    // database — not after a fixed delay, which a busy machine outran (the stop came first: 503).
    await new Promise((r) => setTimeout(r, 30));
    const deadline = Date.now() + 10_000;
    const busy = async () => (await own.pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()`)).rows[0].n > 0;
    while (!(await busy()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    const stopped = own.stop();
    const res = await inFlight;
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.entry).toHaveLength(352);
    await stopped;
    await expect(fetch(`${own.url}/healthz`)).rejects.toThrow();
    expect(own.pool.totalCount).toBe(0);
  });
});
