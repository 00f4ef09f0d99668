/** The read-only view of the store mappers get (map/context.ts StoreView), inside the message's transaction. */
import type { Resource } from '@medplum/fhirtypes';
import { findMatches, parseEverythingQuery } from '../../fhir/index.ts';
import type { FhirStore } from '../../fhir/index.ts';
import type { StoreView } from '../map/context.ts';

const parse = (content: unknown): Resource => (typeof content === 'string' ? JSON.parse(content) : content) as Resource;

export function storeView(store: FhirStore): StoreView {
  /** Settled lookups; for those of conditional creates, whether each found a resource. */
  const prefetched = new Map<string, boolean | undefined>();
  let asked: Array<{ resourceType: string; query: string; use: (found: Resource | undefined) => void }> = [];
  const view: StoreView = {
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
    whenFound(resourceType, query, use) {
      asked.push({ resourceType, query, use });
    },
    async settle(conditions) {
      const uses = asked;
      asked = [];
      // What the mappers read is what the message's own conditional writes (the Patient's, the
      // Encounter's) will find, so resolving it as a condition (FhirStore.lockConditions: found,
      // or locked when not found) costs the transaction nothing more. A lock cycle between two
      // messages would need each to name the other's patient or visit; PostgreSQL's deadlock
      // detection ends it (the transaction is retried). What a conditional update finds is locked
      // now: the message writes it.
      const lookups = new Map<string, { resourceType: string; query: string; forWrite: boolean }>();
      for (const c of conditions) {
        const key = `${c.resourceType}?${c.query}`;
        lookups.set(key, { ...c, forWrite: c.forWrite || lookups.get(key)?.forWrite === true });
      }
      for (const u of uses) {
        const key = `${u.resourceType}?${u.query}`;
        if (!lookups.has(key)) lookups.set(key, { resourceType: u.resourceType, query: u.query, forWrite: false });
      }
      const fresh = [...lookups].filter(([key]) => !prefetched.has(key));
      if (fresh.length) await store.lockConditions(fresh.map(([, l]) => ({ resourceType: l.resourceType, params: new URLSearchParams(l.query), forWrite: l.forWrite })));
      for (const [key, l] of fresh) {
        // An identifier condition (all a mapper writes) is answered from what lockConditions
        // resolved. More than one match fails the write that names it, with its own label.
        const found = l.forWrite ? undefined : await store.findConditional(l.resourceType, new URLSearchParams(l.query), 'Mapping lookup').then((v) => v !== undefined, () => true);
        prefetched.set(key, found);
      }
      for (const u of uses) u.use(await view.findOne(u.resourceType, u.query));
    },
    found(resourceType, query) {
      return prefetched.get(`${resourceType}?${query}`) === true;
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
  return view;
}
