/**
 * The Synthea patient Bundles used for the ingest scenario (49 synthetic patients, ~10,000
 * resources, all `POST` entries linked by urn:uuid fullUrls). The server receives each file's
 * bytes unchanged as a transaction; for the raw-SQL baseline each Bundle is resolved in advance
 * the way the server would (new ids, urn:uuid references rewritten to Type/id, meta stamped,
 * index rows extracted), so only the inserts are timed.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { extractIndexRows } from '../../src/fhir/search/index-rows.ts';
import type { BaselineVersion } from './baseline-sql.ts';

export interface SyntheaBundle {
  file: string;
  /** The file's bytes, sent as the request body. */
  body: Buffer;
  /** Number of entries (= resources the transaction creates). */
  resources: number;
}

export function loadSyntheaBundles(dir: string): SyntheaBundle[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const body = fs.readFileSync(path.join(dir, file));
      const bundle = JSON.parse(body.toString('utf8')) as Bundle;
      if (bundle.resourceType !== 'Bundle' || bundle.type !== 'transaction') throw new Error(`${file} is not a transaction Bundle`);
      return { file, body, resources: bundle.entry?.length ?? 0 };
    });
}

/** Rewrites every Reference.reference found in `ids` (urn:uuid fullUrls) to its Type/id. */
function rewriteReferences(node: unknown, ids: ReadonlyMap<string, string>): void {
  if (Array.isArray(node)) {
    for (const item of node) rewriteReferences(item, ids);
  } else if (node && typeof node === 'object') {
    const obj = node as Record<string, unknown>;
    if (typeof obj.reference === 'string') {
      const mapped = ids.get(obj.reference);
      if (mapped) obj.reference = mapped;
    }
    for (const value of Object.values(obj)) if (value && typeof value === 'object') rewriteReferences(value, ids);
  }
}

/** The resources of one Bundle as the server would store them, ready for BaselineDb.insertTransaction. */
export function resolveBundle(bundle: SyntheaBundle, lastUpdated: string): BaselineVersion[] {
  const parsed = JSON.parse(bundle.body.toString('utf8')) as Bundle;
  const entries = parsed.entry ?? [];
  const ids = new Map<string, string>();
  const resources: Resource[] = [];
  for (const entry of entries) {
    const resource = entry.resource as Resource;
    resource.id = randomUUID();
    if (entry.fullUrl) ids.set(entry.fullUrl, `${resource.resourceType}/${resource.id}`);
    resources.push(resource);
  }
  return resources.map((resource) => {
    rewriteReferences(resource, ids);
    const stamped = { ...resource, meta: { ...resource.meta, versionId: '1', lastUpdated } } as Resource & { id: string };
    return { resourceType: stamped.resourceType, id: stamped.id, content: JSON.stringify(stamped), rows: extractIndexRows(stamped) };
  });
}
