/** The read-only view of the store mappers get (map/context.ts StoreView), inside the message's transaction. */
import type { Resource } from '@medplum/fhirtypes';
import { findMatches, parseEverythingQuery } from '../../fhir/index.ts';
import type { FhirStore } from '../../fhir/index.ts';
import type { StoreView } from '../map/context.ts';

const parse = (content: unknown): Resource => (typeof content === 'string' ? JSON.parse(content) : content) as Resource;

export function storeView(store: FhirStore): StoreView {
  const prefetched = new Set<string>();
  return {
    async findOne(resourceType, query) {
      if (prefetched.has(`${resourceType}?${query}`)) {
        // Resolved with the conditions (below): the answer the conditional write will act on.
        const version = await store.findConditional(resourceType, new URLSearchParams(query), 'Mapping lookup');
        return version?.content ? parse(version.content) : undefined;
      }
      // A read to carry state forward (an Encounter's status and beds): no lock needed, the write
      // that follows is serialised by the conditional update itself.
      const [version] = await findMatches(store, resourceType, new URLSearchParams(query), 1);
      return version?.content ? parse(version.content) : undefined;
    },
    async prefetch(lookups) {
      // These queries are the conditions of the message's own conditional writes (the Patient's,
      // the Encounter's), so resolving them as conditions (FhirStore.lockConditions: found, or
      // locked when not found) costs the transaction nothing more: it skips them later. Its other
      // conditions are locked in a second batch; a lock cycle between two messages would need each
      // to name the other's patient or visit, and PostgreSQL's deadlock detection ends it (the
      // transaction is retried). The message updates what they find: its rows are locked now.
      await store.lockConditions(lookups.map((l) => ({ resourceType: l.resourceType, params: new URLSearchParams(l.query), forWrite: true })));
      for (const l of lookups) prefetched.add(`${l.resourceType}?${l.query}`);
    },
    async compartment(patientId) {
      const out: Resource[] = [];
      const query = parseEverythingQuery(patientId, new URLSearchParams({ _count: '1000' }));
      for (;;) {
        const page = await store.everything(query);
        const rows = page.slice(0, query.count);
        out.push(...rows.filter((v) => v.content).map((v) => parse(v.content)));
        if (page.length <= query.count) return out;
        const last = rows[rows.length - 1]!;
        query.after = [last.resourceType, last.id];
      }
    },
  };
}
