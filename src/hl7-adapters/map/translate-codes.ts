/**
 * Translates senders' local codes after a message is mapped: every coding in the resources whose
 * system is a sender-local one (code-systems.ts) is looked up with ConceptMap $translate, and the
 * standard codings found are added beside it (the original is kept: FHIR CodeableConcepts carry
 * both). Codes no ConceptMap translates stay as they are and are counted as unmapped.
 */
import type { Coding, Resource } from '@medplum/fhirtypes';
import { isStandardSystem } from './code-systems.ts';
import type { MappingContext } from './context.ts';

function codeableConcepts(value: unknown, out: Array<{ coding: Coding[] }>): void {
  if (Array.isArray(value)) {
    for (const v of value) codeableConcepts(v, out);
    return;
  }
  if (!value || typeof value !== 'object') return;
  const record = value as Record<string, unknown>;
  if (Array.isArray(record.coding)) out.push(record as { coding: Coding[] });
  for (const [key, v] of Object.entries(record)) if (key !== 'coding') codeableConcepts(v, out);
}

export async function translateLocalCodes(ctx: MappingContext, resources: readonly Resource[]): Promise<void> {
  const concepts: Array<{ coding: Coding[] }> = [];
  for (const r of resources) codeableConcepts(r, concepts);
  const cache = new Map<string, Promise<Coding[]>>();
  for (const concept of concepts) {
    const added: Coding[] = [];
    for (const coding of concept.coding) {
      if (!coding.system || !coding.code || isStandardSystem(coding.system)) continue;
      const key = `${coding.system}|${coding.code}`;
      let translated = cache.get(key);
      if (!translated) {
        translated = ctx.translate({ system: coding.system, code: coding.code });
        cache.set(key, translated);
        if (!(await translated).length) ctx.unmapped.push({ system: coding.system, code: coding.code });
      }
      for (const t of await translated) {
        if (![...concept.coding, ...added].some((c) => c.system === t.system && c.code === t.code)) added.push(t);
      }
    }
    if (added.length) concept.coding.push(...added);
  }
}
