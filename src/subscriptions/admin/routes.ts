/**
 * An operator's view of each subscription's state (issue 5: "an admin view of each
 * subscription's state"), from the engine's tables:
 *
 *   GET /admin/subscriptions          every subscription with a counter: events numbered, pending,
 *                                     oldest pending, failing since, last error, last delivery
 *   GET /admin/subscriptions/{id}     the same, plus its latest notifications (?limit=, max 500)
 *
 * Same boundary as the HL7 admin API: no authentication yet, keep it behind a network boundary.
 */
import type { FastifyInstance } from 'fastify';
import type { Pool } from '../../db/pool.ts';
import { errors } from '../../fhir/index.ts';

const STATE = `
  SELECT s.subscription_id AS id, s.events_since_start::text AS "eventsSinceStart",
         count(n.*) FILTER (WHERE n.status = 'pending')::int AS pending,
         to_json(min(n.created_at) FILTER (WHERE n.status = 'pending')) #>> '{}' AS "oldestPendingAt",
         to_json(s.failing_since) #>> '{}' AS "failingSince",
         (array_agg(n.last_error ORDER BY n.event_number) FILTER (WHERE n.status = 'pending' AND n.last_error IS NOT NULL))[1] AS "lastError",
         to_json(max(n.delivered_at)) #>> '{}' AS "lastDeliveredAt"
    FROM subscription_state s
    LEFT JOIN subscription_notification n ON n.subscription_id = s.subscription_id`;

export function registerSubscriptionAdminRoutes(app: FastifyInstance, pool: Pool): void {
  app.get('/admin/subscriptions', async () => {
    const { rows } = await pool.query(`${STATE} GROUP BY s.subscription_id ORDER BY s.subscription_id`);
    return { subscriptions: rows };
  });

  app.get<{ Params: { id: string }; Querystring: { limit?: string } }>('/admin/subscriptions/:id', async (req) => {
    const limitText = req.query.limit ?? '50';
    if (!/^\d{1,3}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 500) throw errors.invalidSearch(`limit must be an integer from 1 to 500, got "${limitText}"`, ['limit']);
    const { rows } = await pool.query(`${STATE} WHERE s.subscription_id = $1 GROUP BY s.subscription_id`, [req.params.id]);
    if (!rows[0]) throw errors.notFound('Subscription', `${req.params.id} (no events numbered yet)`);
    const notifications = await pool.query(
      `SELECT event_number::text AS "eventNumber", event_id::text AS "eventId", resource_type || '/' || resource_id || '/_history/' || version_id AS resource, interaction,
              status, attempts, last_error AS "lastError", to_json(created_at) #>> '{}' AS "createdAt", to_json(delivered_at) #>> '{}' AS "deliveredAt",
              to_json(next_attempt_at) #>> '{}' AS "nextAttemptAt"
         FROM subscription_notification WHERE subscription_id = $1 ORDER BY event_number DESC LIMIT $2`,
      [req.params.id, Number(limitText)],
    );
    return { ...rows[0], notifications: notifications.rows };
  });
}
