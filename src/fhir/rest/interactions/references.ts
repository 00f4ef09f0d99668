/**
 * Reference rewriting inside a transaction: `urn:uuid:`/fullUrl references to entries become
 * `Type/id` of the ids the server assigned, and conditional references (`Type?search`) become the
 * one resource they match (http://hl7.org/fhir/R4/http.html#trules).
 */
import { errors } from '../../errors.ts';
import type { FhirStore } from '../../store/fhir-store.ts';

/** Visits every `reference` string of Reference elements in a resource (contained ones too). */
function collect(node: unknown, out: Array<{ holder: Record<string, unknown> }>): void {
  if (Array.isArray(node)) {
    for (const item of node) collect(item, out);
  } else if (node && typeof node === 'object') {
    const obj = node as Record<string, unknown>;
    if (typeof obj.reference === 'string') out.push({ holder: obj });
    for (const [key, value] of Object.entries(obj)) if (key !== 'reference' && typeof value === 'object') collect(value, out);
  }
}

const CONDITIONAL = /^([A-Z][A-Za-z]+)\?(.+)$/;

export async function rewriteReferences(resource: object, ids: ReadonlyMap<string, string>, tx: FhirStore, where: string): Promise<void> {
  const holders: Array<{ holder: Record<string, unknown> }> = [];
  collect(resource, holders);
  for (const { holder } of holders) {
    const ref = holder.reference as string;
    const mapped = ids.get(ref);
    if (mapped) {
      holder.reference = mapped;
      continue;
    }
    if (ref.startsWith('urn:uuid:') || ref.startsWith('urn:oid:')) {
      throw errors.unresolvedReference(ref, `${where}: no entry in this transaction has fullUrl ${ref}`);
    }
    const conditional = CONDITIONAL.exec(ref);
    if (conditional) {
      const [, type, search] = conditional as unknown as [string, string, string];
      const match = await tx.findConditional(type, new URLSearchParams(search), `${where}: conditional reference`);
      if (!match) throw errors.unresolvedReference(ref, `${where}: no ${type} matches`);
      holder.reference = `${type}/${match.id}`;
    }
  }
}
