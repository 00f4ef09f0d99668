/**
 * Stored notifications (subscription_notification rows) turned into the events of a notification
 * Bundle: the resource in the version that was the event (full-resource), and the topic's
 * additional context (e.g. an Encounter's patient) as it is now.
 */
import type { Reference, Resource } from '@medplum/fhirtypes';
import type { FhirStore } from '../../fhir/index.ts';
import type { PayloadContent, TopicBinding } from '../subscription-model.ts';
import type { NotificationEvent } from './notification-bundle.ts';

export interface NotificationRow {
  event_number: string;
  resource_type: string;
  resource_id: string;
  version_id: number;
  interaction: string;
  /** ISO instant of the event. */
  timestamp: string;
}

/**
 * The columns a NotificationRow is selected with (from subscription_notification). `event_number`
 * is its text: order by `subscription_notification.event_number`, never the output's name.
 */
export const NOTIFICATION_COLUMNS = `event_number::text, resource_type, resource_id, version_id, interaction,
  to_char(coalesce(occurred_at, created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS timestamp`;

async function readVersion(store: FhirStore, type: string, id: string, version: number): Promise<Resource | undefined> {
  try {
    const stored = await store.vread(type, id, String(version));
    return stored.content ? (JSON.parse(stored.content) as Resource) : undefined;
  } catch {
    return undefined;
  }
}

async function readCurrent(store: FhirStore, reference: string): Promise<Resource | undefined> {
  const [type, id, ...rest] = reference.split('/');
  if (!type || !id || rest.length) return undefined;
  try {
    const stored = await store.read(type, id);
    return stored.content ? (JSON.parse(stored.content) as Resource) : undefined;
  } catch {
    return undefined;
  }
}

export async function loadEvents(store: FhirStore, rows: readonly NotificationRow[], binding: TopicBinding | undefined, content: PayloadContent): Promise<NotificationEvent[]> {
  return Promise.all(
    rows.map(async (row): Promise<NotificationEvent> => {
      const event: NotificationEvent = { eventNumber: row.event_number, timestamp: row.timestamp, resourceType: row.resource_type, resourceId: row.resource_id, interaction: row.interaction };
      if (content === 'empty') return event;
      // The version that was the event; a delete's context comes from the version before it.
      const needed = content === 'full-resource' || binding?.topic.additionalContext !== undefined;
      const resource = needed && row.interaction !== 'delete' ? await readVersion(store, row.resource_type, row.resource_id, row.version_id) : undefined;
      if (content === 'full-resource') event.resource = resource;
      const contextElement = binding?.topic.additionalContext;
      const contextSource = resource ?? (contextElement && row.interaction === 'delete' ? await readVersion(store, row.resource_type, row.resource_id, row.version_id - 1) : undefined);
      const reference = contextElement ? ((contextSource as Record<string, unknown> | undefined)?.[contextElement] as Reference | undefined)?.reference : undefined;
      if (reference && /^[A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(reference)) {
        event.additionalContextRefs = [reference];
        if (content === 'full-resource') {
          const context = await readCurrent(store, reference);
          if (context) event.additionalContext = [context];
        }
      }
      return event;
    }),
  );
}
