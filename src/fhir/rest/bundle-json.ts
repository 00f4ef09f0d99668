/**
 * Builds searchset and history Bundles as JSON text around the stored resource JSON, which is
 * spliced in verbatim: a page of 1,000 resources is never parsed and re-serialised.
 */
import type { BundleLink, OperationOutcome } from '@medplum/fhirtypes';
import type { StoredVersion } from '../store/fhir-store.ts';

export interface BundleFrame {
  type: 'searchset' | 'history' | 'batch-response' | 'transaction-response';
  total?: number | undefined;
  links: BundleLink[];
  /** Warnings for the client (ignored search parameters), as a search-mode `outcome` entry. */
  outcome?: OperationOutcome | undefined;
}

function frame(f: BundleFrame, entries: string[]): string {
  const head: Record<string, unknown> = { resourceType: 'Bundle', type: f.type, meta: { lastUpdated: new Date().toISOString() } };
  if (f.total !== undefined) head.total = f.total;
  if (f.links.length) head.link = f.links;
  const all = f.outcome ? [...entries, JSON.stringify({ resource: f.outcome, search: { mode: 'outcome' } })] : entries;
  const json = JSON.stringify(head);
  // FHIR JSON forbids empty arrays: no entries, no "entry".
  return all.length ? `${json.slice(0, -1)},"entry":[${all.join(',')}]}` : json;
}

/** A batch-response or transaction-response Bundle around response entries (JSON text). */
export function responseBundleJson(type: 'batch-response' | 'transaction-response', entries: string[]): string {
  return frame({ type, links: [] }, entries);
}

const searchEntry = (base: string, v: StoredVersion, mode: 'match' | 'include') =>
  `{"fullUrl":${JSON.stringify(`${base}/${v.resourceType}/${v.id}`)},"resource":${v.content},"search":{"mode":"${mode}"}}`;

export function searchsetJson(base: string, f: BundleFrame, matches: StoredVersion[], included: StoredVersion[] = []): string {
  return frame(f, [...matches.map((v) => searchEntry(base, v, 'match')), ...included.map((v) => searchEntry(base, v, 'include'))]);
}

export function historyJson(base: string, f: BundleFrame, versions: StoredVersion[]): string {
  return frame(
    f,
    versions.map((v) => {
      const url = `${v.resourceType}/${v.id}`;
      const request = JSON.stringify({ method: v.deleted ? 'DELETE' : v.versionId === 1 ? 'POST' : 'PUT', url: v.versionId === 1 && !v.deleted ? v.resourceType : url });
      const response = JSON.stringify({ status: v.versionId === 1 && !v.deleted ? '201' : '200', etag: `W/"${v.versionId}"`, lastModified: v.lastUpdated });
      const resource = v.content === null ? '' : `"resource":${v.content},`;
      return `{"fullUrl":${JSON.stringify(`${base}/${url}`)},${resource}"request":${request},"response":${response}}`;
    }),
  );
}
