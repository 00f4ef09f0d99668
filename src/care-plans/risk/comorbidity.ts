/**
 * Charlson comorbidities from ICD-10 diagnosis codes (Quan et al., Med Care 2005; table as data in
 * charlson-icd10.json, replaceable). Codes match on prefixes after the dot is removed, so Chinese
 * clinical-version codes (I21.401, E11.900) match their ICD-10 category (I21, E119); a range such
 * as `I425-I429` covers every code whose prefix of that length lies in it. Of each pair only the
 * more severe counts (mild vs moderate/severe liver disease, uncomplicated vs complicated diabetes,
 * any malignancy vs metastatic tumour).
 */
import fs from 'node:fs';

export interface ComorbidityCondition {
  id: string;
  name: string;
  /** Prefixes (`I21`) and inclusive ranges (`I425-I429`), without dots. */
  codes: string[];
  /** Restricts the match to these 4th characters (diabetes E10–E14); '' matches a code with none. */
  fourthCharacter?: string[];
  charlson: number;
  quan2011: number;
  /** Points in the LACE index's comorbidity item. */
  lace: number;
  /** When the code set also has this condition, this one does not count. */
  supersededBy?: string;
}

export interface ComorbidityTable {
  source: string;
  version: string;
  conditions: ComorbidityCondition[];
}

/** `I21.401` → `I21401`; upper case, no dots or spaces. */
export function normaliseIcd10(code: string): string {
  return code.toUpperCase().replace(/[.\s]/g, '');
}

function matchesEntry(code: string, entry: string): boolean {
  const dash = entry.indexOf('-');
  if (dash < 0) return code.startsWith(entry);
  const low = entry.slice(0, dash);
  const high = entry.slice(dash + 1);
  const prefix = code.slice(0, low.length);
  return prefix.length === low.length && prefix >= low && prefix <= high;
}

function matchesCondition(code: string, condition: ComorbidityCondition): boolean {
  if (!condition.codes.some((entry) => matchesEntry(code, entry))) return false;
  if (!condition.fourthCharacter) return true;
  return condition.fourthCharacter.includes(code[3] ?? '');
}

export interface ComorbidityMatch {
  condition: ComorbidityCondition;
  /** The codes (as given) that matched it. */
  codes: string[];
}

/** The conditions the codes show, after the severity pairs are resolved; in table order. */
export function findComorbidities(codes: readonly string[], table: ComorbidityTable): ComorbidityMatch[] {
  const found = new Map<string, ComorbidityMatch>();
  for (const original of codes) {
    const code = normaliseIcd10(original);
    for (const condition of table.conditions) {
      if (!matchesCondition(code, condition)) continue;
      const match = found.get(condition.id) ?? { condition, codes: [] };
      match.codes.push(original);
      found.set(condition.id, match);
    }
  }
  return table.conditions
    .filter((c) => found.has(c.id) && !(c.supersededBy && found.has(c.supersededBy)))
    .map((c) => found.get(c.id) as ComorbidityMatch);
}

export function charlsonIndex(matches: readonly ComorbidityMatch[], weights: 'charlson' | 'quan2011' = 'charlson'): number {
  return matches.reduce((sum, m) => sum + m.condition[weights], 0);
}

/** The table CareBridge ships (charlson-icd10.json beside this file). */
export function defaultComorbidityTable(): ComorbidityTable {
  return JSON.parse(fs.readFileSync(new URL('./charlson-icd10.json', import.meta.url), 'utf8')) as ComorbidityTable;
}
