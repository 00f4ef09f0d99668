/**
 * `_summary` and `_elements` (http://hl7.org/fhir/R4/search.html#summary, #elements): a subset of
 * each matching resource, marked with the SUBSETTED tag. Summary elements are those the R4
 * StructureDefinitions flag isSummary; mandatory elements are always kept.
 */
import type { Resource } from '@medplum/fhirtypes';
import { mandatoryElements, summaryElements } from '../definitions.ts';
import type { Summary } from './search-query.ts';

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED', display: 'subsetted' };
const ALWAYS = new Set(['resourceType', 'id', 'meta']);

/** Matches a top-level key against element names, `value[x]` standing for valueQuantity etc. */
function inSet(key: string, names: ReadonlySet<string>): boolean {
  if (names.has(key)) return true;
  const choice = /^([a-z][A-Za-z]*?)([A-Z][A-Za-z]*)$/.exec(key);
  return choice ? names.has(`${choice[1]}[x]`) : false;
}

/** True when the request asks for less than the whole resource. */
export function isSubsetting(summary: Summary | undefined, elements: string[] | undefined): boolean {
  return (summary !== undefined && summary !== 'false' && summary !== 'count') || (elements !== undefined && elements.length > 0);
}

export function subset(content: string, summary: Summary | undefined, elements: string[] | undefined): string {
  const resource = JSON.parse(content) as Resource & Record<string, unknown>;
  const mandatory = mandatoryElements(resource.resourceType);
  let keep: (k: string) => boolean;
  if (elements?.length) {
    const wanted = new Set(elements.map((e) => e.split('.')[0] as string));
    keep = (k) => ALWAYS.has(k) || wanted.has(k) || inSet(k, mandatory);
  } else if (summary === 'true') {
    const names = summaryElements(resource.resourceType);
    keep = (k) => ALWAYS.has(k) || inSet(k, names) || inSet(k, mandatory);
  } else if (summary === 'text') {
    keep = (k) => ALWAYS.has(k) || k === 'text' || inSet(k, mandatory);
  } else if (summary === 'data') {
    keep = (k) => k !== 'text';
  } else return content;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(resource)) if (keep(k)) out[k] = v;
  const meta = (out.meta ?? {}) as { tag?: unknown[] };
  out.meta = { ...meta, tag: [...(meta.tag ?? []), SUBSETTED] };
  return JSON.stringify(out);
}
