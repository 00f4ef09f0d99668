/**
 * Urgent values in new Observations (issue 6, "After discharge"): each LOINC-coded value — the
 * observation's own, or a component's (a blood-pressure panel) — is checked against threshold
 * rules kept as data (thresholds.json, replaceable): at least / at most a value in the rule's
 * unit, other units converted by the listed factors (glucose mg/dL → mmol/L). A value in a unit the
 * rule cannot convert is not judged (never guessed).
 */
import fs from 'node:fs';
import type { Observation, Quantity } from '@medplum/fhirtypes';

export interface ThresholdRule {
  id: string;
  label: string;
  /** LOINC codes the rule applies to. */
  codes: string[];
  unit: string;
  atLeast?: number;
  atMost?: number;
  priority: 'urgent' | 'asap' | 'stat';
}

export interface ThresholdTable {
  source: string;
  version: string;
  rules: ThresholdRule[];
  /** For each rule unit, factors converting other units into it. */
  unitFactors: Record<string, Record<string, number>>;
}

export interface Breach {
  rule: ThresholdRule;
  code: string;
  /** The value in the rule's unit. */
  value: number;
  original: Quantity;
}

export function defaultThresholds(): ThresholdTable {
  return JSON.parse(fs.readFileSync(new URL('./thresholds.json', import.meta.url), 'utf8')) as ThresholdTable;
}

function inUnit(q: Quantity, unit: string, table: ThresholdTable): number | undefined {
  if (q.value === undefined) return undefined;
  const given = q.code ?? q.unit;
  if (given === unit) return q.value;
  const factor = given === undefined ? undefined : table.unitFactors[unit]?.[given];
  return factor === undefined ? undefined : q.value * factor;
}

/** The (code, quantity) pairs of an observation: its value and its components' values. */
function values(observation: Observation): Array<{ code: string; quantity: Quantity }> {
  const loinc = (concept: Observation['code'] | undefined) => concept?.coding?.filter((c) => c.system === 'http://loinc.org' && c.code).map((c) => c.code as string) ?? [];
  const out: Array<{ code: string; quantity: Quantity }> = [];
  if (observation.valueQuantity) for (const code of loinc(observation.code)) out.push({ code, quantity: observation.valueQuantity });
  for (const component of observation.component ?? []) {
    if (component.valueQuantity) for (const code of loinc(component.code)) out.push({ code, quantity: component.valueQuantity });
  }
  return out;
}

export function findBreaches(observation: Observation, table: ThresholdTable): Breach[] {
  if (observation.status === 'entered-in-error' || observation.status === 'cancelled') return [];
  const breaches: Breach[] = [];
  for (const { code, quantity } of values(observation)) {
    for (const rule of table.rules) {
      if (!rule.codes.includes(code)) continue;
      const value = inUnit(quantity, rule.unit, table);
      if (value === undefined) continue;
      if ((rule.atLeast !== undefined && value >= rule.atLeast) || (rule.atMost !== undefined && value <= rule.atMost)) breaches.push({ rule, code, value, original: quantity });
    }
  }
  return breaches;
}
