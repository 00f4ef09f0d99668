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
  /** One HL7 v2 message applied (processed) or not (failed), with its local codes no ConceptMap translated. */
  observeHl7Message(event: { status: string; messageType: string; unmapped: number; seconds: number }): void;
  /** One subscription delivery attempt. */
  observeSubscriptionDelivery(event: { subscription: string; ok: boolean; seconds: number }): void;
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
  const hl7Messages = new client.Counter({
    name: 'carebridge_hl7_messages_total',
    help: 'HL7 v2 messages applied to the FHIR store, by message type and outcome (processed, failed)',
    labelNames: ['message_type', 'status'] as const,
    registers: [registry],
  });
  const hl7Unmapped = new client.Counter({
    name: 'carebridge_hl7_unmapped_codes_total',
    help: 'Local codes in HL7 v2 messages that no ConceptMap translated, by message type',
    labelNames: ['message_type'] as const,
    registers: [registry],
  });
  const hl7Duration = new client.Histogram({
    name: 'carebridge_hl7_processing_duration_seconds',
    help: 'Time to map and apply one HL7 v2 message (inside its database transaction)',
    labelNames: ['message_type'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const observeHl7Message: Metrics['observeHl7Message'] = (e) => {
    hl7Messages.inc({ message_type: e.messageType, status: e.status });
    if (e.unmapped) hl7Unmapped.inc({ message_type: e.messageType }, e.unmapped);
    hl7Duration.observe({ message_type: e.messageType }, e.seconds);
  };
  const deliveries = new client.Histogram({
    name: 'carebridge_subscription_delivery_duration_seconds',
    help: 'Subscription delivery attempts by outcome (delivered, failed), with their latency',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const deliveryFailures = new client.Counter({
    name: 'carebridge_subscription_delivery_failures_total',
    help: 'Failed subscription delivery attempts, by subscription id',
    labelNames: ['subscription'] as const,
    registers: [registry],
  });
  new client.Gauge({
    name: 'carebridge_subscription_queue_depth',
    help: 'Subscription notifications not yet delivered',
    registers: [registry],
    async collect() {
      const p = pool();
      const result = p ? await p.query<{ n: string }>(`SELECT count(*)::text AS n FROM subscription_notification WHERE status = 'pending'`).catch(() => undefined) : undefined;
      this.set(Number(result?.rows[0]?.n ?? 0));
    },
  });
  const observeSubscriptionDelivery: Metrics['observeSubscriptionDelivery'] = (e) => {
    deliveries.observe({ outcome: e.ok ? 'delivered' : 'failed' }, e.seconds);
    if (!e.ok) deliveryFailures.inc({ subscription: e.subscription });
  };
  return { registry, requests, latency, observeHl7Message, observeSubscriptionDelivery };
}
