/**
 * The topics published for R4 clients (R5 Backport IG): R4 has no SubscriptionTopic resource, so
 * each topic is a `Basic` resource (code SubscriptionTopic) carrying the R5 elements as
 * cross-version extensions — canonical URL, title, status, the resource trigger (resource type,
 * interactions, query criteria for a state change) and the filters it allows — and is listed in
 * the CapabilityStatement with `capabilitystatement-subscriptiontopic-canonical`. Written at
 * start when missing or different from the catalog (the catalog is what the engine serves).
 */
import { deepEquals } from '@medplum/core';
import type { Basic, Extension } from '@medplum/fhirtypes';
import type { FhirStore } from '../../fhir/index.ts';
import { FhirError } from '../../fhir/index.ts';
import { TOPICS } from './catalog.ts';
import type { Topic } from './catalog.ts';

const R5 = 'http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic';
export const TOPIC_CANONICAL_EXTENSION = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/capabilitystatement-subscriptiontopic-canonical';

function triggerExtension(topic: Topic): Extension {
  const q = topic.queryCriteria;
  return {
    url: `${R5}.resourceTrigger`,
    extension: [
      { url: 'description', valueMarkdown: topic.description },
      { url: 'resource', valueUri: `http://hl7.org/fhir/StructureDefinition/${topic.resourceType}` },
      ...topic.interactions.map((code) => ({ url: 'supportedInteraction', valueCode: code })),
      ...(q
        ? [
            {
              url: 'queryCriteria',
              extension: [
                ...(q.previous ? [{ url: 'previous', valueString: q.previous }] : []),
                { url: 'resultForCreate', valueCode: q.resultForCreate },
                ...(q.current ? [{ url: 'current', valueString: q.current }] : []),
                { url: 'resultForDelete', valueCode: q.resultForDelete },
                { url: 'requireBoth', valueBoolean: q.requireBoth },
              ],
            },
          ]
        : []),
      ...(topic.changedElement ? [{ url: 'fhirPathCriteria', valueString: `%previous.${topic.changedElement} != %current.${topic.changedElement}` }] : []),
    ],
  };
}

export function topicAsBasic(topic: Topic): Basic & { id: string } {
  return {
    resourceType: 'Basic',
    id: `topic-${topic.name}`,
    code: { coding: [{ system: 'http://hl7.org/fhir/fhir-types', code: 'SubscriptionTopic', display: 'SubscriptionTopic' }] },
    extension: [
      { url: `${R5}.url`, valueUri: topic.url },
      { url: `${R5}.title`, valueString: topic.title },
      { url: `${R5}.status`, valueCode: 'active' },
      { url: `${R5}.description`, valueMarkdown: topic.description },
      triggerExtension(topic),
      ...topic.canFilterBy.map((f) => ({
        url: `${R5}.canFilterBy`,
        extension: [
          { url: 'description', valueMarkdown: f.description },
          { url: 'resource', valueUri: topic.resourceType },
          { url: 'filterParameter', valueString: f.parameter },
        ],
      })),
      {
        url: `${R5}.notificationShape`,
        extension: [
          { url: 'resource', valueUri: topic.resourceType },
          ...(topic.additionalContext ? [{ url: 'include', valueString: `${topic.resourceType}:${topic.additionalContext}` }] : []),
        ],
      },
    ],
  };
}

/** Writes each topic's Basic resource when it is missing or differs from the catalog. */
export async function publishTopics(store: FhirStore): Promise<void> {
  for (const topic of TOPICS) {
    const basic = topicAsBasic(topic);
    try {
      const stored = JSON.parse((await store.read('Basic', basic.id)).content as string) as Basic;
      const { meta: _meta, ...rest } = stored;
      if (deepEquals(rest, basic)) continue;
    } catch (err) {
      if (!(err instanceof FhirError)) throw err;
    }
    await store.update(basic);
  }
}

/** The CapabilityStatement extensions of the Subscription resource: one per topic served. */
export function topicCapabilityExtensions(): Extension[] {
  return TOPICS.map((t) => ({ url: TOPIC_CANONICAL_EXTENSION, valueCanonical: t.url }));
}
