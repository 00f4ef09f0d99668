/**
 * Whether a write is an event of a topic, and whether it passes a subscription's filters — tested
 * on the versions of that write (the one before and the one written), not on whatever the resource
 * is by the time the dispatcher looks: a discharge is the change to `finished` in that version.
 * Search tests use @medplum/core's in-memory matcher, with the same parameter definitions as the
 * search engine. A delete is tested on the last version before it.
 */
import { matchesSearchRequest, parseSearchRequest } from '@medplum/core';
import type { SearchRequest } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { Interaction, Topic } from './catalog.ts';

export interface VersionPair {
  interaction: Interaction;
  /** The version before the write (undefined for a create). */
  previous: Resource | undefined;
  /** The version written (undefined for a delete). */
  current: Resource | undefined;
}

const parsed = new Map<string, SearchRequest>();

function searchTest(resourceType: string, query: string): SearchRequest {
  const key = `${resourceType}?${query}`;
  let request = parsed.get(key);
  if (!request) parsed.set(key, (request = parseSearchRequest(key)));
  return request;
}

/** Whether the write is an event of the topic (interaction, state change, changed element). */
export function isTopicEvent(topic: Topic, write: VersionPair): boolean {
  if (!topic.interactions.includes(write.interaction)) return false;
  const criteria = topic.queryCriteria;
  if (criteria) {
    const previous = write.previous === undefined ? criteria.resultForCreate === 'test-passes' : criteria.previous === undefined || matchesSearchRequest(write.previous, searchTest(topic.resourceType, criteria.previous));
    const current = write.current === undefined ? criteria.resultForDelete === 'test-passes' : criteria.current === undefined || matchesSearchRequest(write.current, searchTest(topic.resourceType, criteria.current));
    if (criteria.requireBoth ? !(previous && current) : !(previous || current)) return false;
  }
  if (topic.changedElement && write.interaction === 'update') {
    const element = topic.changedElement;
    const before = (write.previous as Record<string, unknown> | undefined)?.[element];
    const after = (write.current as Record<string, unknown> | undefined)?.[element];
    if (JSON.stringify(before) === JSON.stringify(after)) return false;
  }
  return true;
}

/** Whether the write passes every filter (AND); a delete is tested on the version before it. */
export function passesFilters(filters: readonly SearchRequest[], write: VersionPair): boolean {
  if (!filters.length) return true;
  const resource = write.current ?? write.previous;
  if (!resource) return false;
  return filters.every((filter) => matchesSearchRequest(resource, filter));
}
