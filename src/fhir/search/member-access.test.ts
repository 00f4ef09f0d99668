// member-access.ts replaces member access in search parameter expressions with a cheaper one for
// index extraction. The property that makes that safe: every expression evaluates to the same
// values of the same types as with @medplum/core's own evaluator — checked here for every R4
// search parameter (composites' components too) of every resource in the Synthea fixtures (all
// their types) and hand-made resources with choice types, primitive extensions, contained
// resources and references of several kinds.
import { evalFhirPathTyped, parseFhirPath, toTypedValue } from '@medplum/core';
import type { FhirPathAtom, TypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { loadDefinitions, searchParamsFor } from '../definitions.ts';
import { syntheaResources } from '../../../tests/helpers/synthea.ts';
import { withMemberAccess } from './member-access.ts';
import { compositeComponents } from './parse-filter.ts';

loadDefinitions();

const handMade = [
  {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }, { system: 'http://loinc.org', code: '8480-6' }], text: '收缩压' },
    subject: { reference: 'Patient/p1' },
    focus: [{ reference: 'Group/g1' }, { identifier: { system: 'urn:x', value: '1' } }],
    valueQuantity: { value: 120, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
    _status: { extension: [{ url: 'urn:note', valueString: 'checked' }] },
    component: [
      { code: { text: 'sys' }, valueQuantity: { value: 120 } },
      { code: { text: 'flag' }, valueCodeableConcept: { coding: [{ code: 'H' }] } },
      { code: { text: 'when' }, valuePeriod: { start: '2026-01-01' } },
    ],
  },
  { resourceType: 'Patient', deceasedDateTime: '2020-01-01', _birthDate: { extension: [{ url: 'urn:x', valueString: 'y' }] }, name: [{ family: '张', given: ['三'] }] },
  { resourceType: 'Condition', subject: { reference: 'Patient/p1' }, onsetAge: { value: 40, unit: 'a' }, abatementString: 'resolved', contained: [{ resourceType: 'Practitioner', id: 'd1' }], asserter: { reference: '#d1' } },
  { resourceType: 'Provenance', target: [{ reference: 'Patient/p1' }, { reference: 'Encounter/e1' }], recorded: '2026-11-25T00:00:00Z', agent: [{ who: { display: 'HIS' } }] },
] as Resource[];

/** The values an expression selects, as index extraction reads them (without locations); or the error. */
function evaluate(expression: FhirPathAtom, input: TypedValue[]): unknown {
  try {
    return evalFhirPathTyped(expression, input).map((v) => ({ type: v.type, value: v.value as unknown }));
  } catch (err) {
    return { error: String(err) };
  }
}

describe('withMemberAccess', () => {
  const resources = [...syntheaResources(), ...handMade];

  it('selects what @medplum/core selects, for every search parameter of every fixture resource', () => {
    const types = new Set<string>();
    let compared = 0;
    let selected = 0;
    for (const resource of resources) {
      types.add(resource.resourceType);
      const input = [toTypedValue(resource)];
      for (const param of searchParamsFor(resource.resourceType).values()) {
        const expected = evaluate(param.expression, input);
        expect(evaluate(withMemberAccess(param.expression), input), `${resource.resourceType}.${param.code}`).toEqual(expected);
        compared++;
        if (Array.isArray(expected) && expected.length) selected++;
        if (param.type !== 'composite') continue;
        // A composite's components are evaluated on each element its own expression selects.
        const base = param.definition.expression ? parseFhirPath(param.definition.expression) : param.expression;
        const elements = evaluate(base, input);
        expect(evaluate(withMemberAccess(base), input)).toEqual(elements);
        for (const component of compositeComponents(param) ?? []) {
          const atom = parseFhirPath(component.expression);
          for (const element of Array.isArray(elements) ? (elements as TypedValue[]) : []) {
            expect(evaluate(withMemberAccess(atom), [element]), `${param.code}: ${component.expression}`).toEqual(evaluate(atom, [element]));
            compared++;
          }
        }
      }
    }
    expect(types.size).toBeGreaterThan(15);
    expect(compared).toBeGreaterThan(10_000);
    expect(selected).toBeGreaterThan(2_000);
  });

  it('keeps type names where functions read them, and converts each expression once', () => {
    const patient = searchParamsFor('Observation').get('patient')!.expression; // subject.where(resolve() is Patient)
    const converted = withMemberAccess(patient);
    expect(withMemberAccess(patient)).toBe(converted);
    expect(converted).not.toBe(patient);
    expect(converted.toString()).toBe(patient.toString());
    const input = [toTypedValue(handMade[0]!)];
    expect(evaluate(converted, input)).toEqual([{ type: 'Reference', value: { reference: 'Patient/p1' } }]);
    // The type operand of ofType stays a SymbolAtom naming the type.
    const valueQuantity = withMemberAccess(searchParamsFor('Observation').get('value-quantity')!.expression);
    expect(JSON.stringify(evaluate(valueQuantity, input))).toContain('"type":"Quantity"');
  });
});
