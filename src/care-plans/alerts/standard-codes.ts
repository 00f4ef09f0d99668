/**
 * Home devices and apps often send their own codes (issue 6: "LOINC-coded, and local codes through
 * ConceptMaps"). Before an Observation is checked against thresholds, each of its codings — the
 * observation's and its components' — that has no LOINC coding beside it gets the LOINC codings a
 * stored ConceptMap gives for it (ConceptMap/$translate semantics, cached), so a local "SYS" code
 * mapped to 8480-6 is checked as systolic pressure. The stored resource is not changed.
 */
import type { CodeableConcept, Coding, Observation } from '@medplum/fhirtypes';

const LOINC = 'http://loinc.org';

export interface CodeTranslator {
  translate(coding: Coding): Promise<Coding[]>;
}

async function withLoinc(concept: CodeableConcept | undefined, translator: CodeTranslator): Promise<CodeableConcept | undefined> {
  const codings = concept?.coding ?? [];
  if (!codings.length || codings.some((c) => c.system === LOINC)) return concept;
  const added: Coding[] = [];
  for (const coding of codings) {
    if (!coding.system || !coding.code) continue;
    for (const target of await translator.translate(coding)) if (target.system === LOINC && !added.some((a) => a.code === target.code)) added.push(target);
  }
  return added.length ? { ...concept, coding: [...codings, ...added] } : concept;
}

/** The observation with LOINC codings added where a ConceptMap translates its local codes. */
export async function withStandardCodes(observation: Observation, translator: CodeTranslator | undefined): Promise<Observation> {
  if (!translator) return observation;
  const code = await withLoinc(observation.code, translator);
  const component = observation.component && (await Promise.all(observation.component.map(async (c) => ({ ...c, code: (await withLoinc(c.code, translator)) ?? c.code }))));
  return { ...observation, ...(code ? { code } : {}), ...(component ? { component } : {}) };
}
