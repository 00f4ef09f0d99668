/** The read-only view of the store mappers get (map/context.ts StoreView), inside the message's transaction. */
import type { Resource } from '@medplum/fhirtypes';
import { findMatches, parseEverythingQuery } from '../../fhir/index.ts';
import type { FhirStore } from '../../fhir/index.ts';
import type { StoreView } from '../map/context.ts';

const parse = (content: unknown): Resource => (typeof content === 'string' ? JSON.parse(content) : content) as Resource;

export function storeView(store: FhirStore): StoreView {
  return {
    async findOne(resourceType, query) {
      // A read to carry state forward (an Encounter's status and beds): no lock needed, the write
      // that follows is serialised by the conditional update itself.
      const [version] = await findMatches(store, resourceType, new URLSearchParams(query), 1);
      return version?.content ? parse(version.content) : undefined;
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
