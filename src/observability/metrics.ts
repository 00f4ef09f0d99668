/**
 * Prometheus metrics (prom-client): HTTP requests by interaction and resource type, their
 * latency, and PostgreSQL pool usage. One registry per server instance, no global state.
 */
import client from 'prom-client';
import type { Pool } from '../db/pool.ts';

export interface Metrics {
  registry: client.Registry;
  requests: client.Counter<'interaction' | 'resource_type' | 'status'>;
  latency: client.Histogram<'interaction' | 'resource_type'>;
}

export function createMetrics(pool: () => Pool | undefined): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const requests = new client.Counter({
    name: 'carebridge_http_requests_total',
    help: 'HTTP requests by FHIR interaction, resource type and status code',
    labelNames: ['interaction', 'resource_type', 'status'] as const,
    registers: [registry],
  });
  const latency = new client.Histogram({
    name: 'carebridge_http_request_duration_seconds',
    help: 'HTTP request latency by FHIR interaction and resource type',
    labelNames: ['interaction', 'resource_type'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const poolGauge = (name: string, help: string, read: (p: Pool) => number) =>
    new client.Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const p = pool();
        this.set(p ? read(p) : 0);
      },
    });
  poolGauge('carebridge_db_pool_connections', 'PostgreSQL connections open in the pool', (p) => p.totalCount);
  poolGauge('carebridge_db_pool_idle', 'PostgreSQL connections idle in the pool', (p) => p.idleCount);
  poolGauge('carebridge_db_pool_waiting', 'Queries waiting for a PostgreSQL connection', (p) => p.waitingCount);
  return { registry, requests, latency };
}
