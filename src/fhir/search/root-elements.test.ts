// root-elements.ts lets index extraction skip parameters whose expression cannot select anything
// from a resource. The property that makes that safe: whenever none of an expression's root
// elements is present, evaluating it gives nothing — checked here for every R4 parameter of every
// resource in the Synthea fixtures (all their types) and a few hand-made ones.
import { evalFhirPathTyped, toTypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { loadDefinitions, searchParamsFor } from '../definitions.ts';
import { syntheaResources } from '../../../tests/helpers/synthea.ts';
import { presentElements, rootElements } from './root-elements.ts';

loadDefinitions();

const roots = (type: string, code: string) => rootElements(searchParamsFor(type).get(code)!.expression, type);

describe('rootElements', () => {
  it('names the top-level elements of navigation expressions', () => {
    expect(roots('Observation', 'code')).toEqual(['code']);
    expect(roots('Observation', 'combo-code')).toEqual(['code', 'component']);
    expect(roots('Observation', 'patient')).toEqual(['subject']); // subject.where(resolve() is Patient)
    expect(roots('Observation', 'value-quantity')).toEqual(['value', 'value']); // value.ofType(Quantity) | value.ofType(SampledData)
    expect(roots('Encounter', 'practitioner')).toEqual(['participant']);
  });

  it('gives up on anything else: always evaluated', () => {
    expect(roots('Patient', 'deceased')).toBeUndefined(); // an operator at the root
    expect(rootElements(searchParamsFor('Observation').get('code-value-quantity')!.expression, 'Observation')).toBeUndefined(); // the bare resource
  });
});

describe('presentElements', () => {
  it('holds keys, primitive extensions and choice elements by their name', () => {
    const present = presentElements({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueQuantity: { value: 1 }, _effectiveDateTime: { extension: [] } } as Resource);
    for (const name of ['status', 'code', 'value', 'valueQuantity', 'effective', 'effectiveDateTime']) expect(present.has(name), name).toBe(true);
    expect(present.has('component')).toBe(false);
  });
});

describe('skipping is safe', () => {
  const resources: Resource[] = [
    ...syntheaResources(),
    { resourceType: 'Observation', status: 'final', code: { text: 'bp' }, component: [{ code: { text: 'sys' }, valueQuantity: { value: 120, unit: 'mm[Hg]' } }] } as Resource,
    { resourceType: 'Patient', deceasedDateTime: '2020-01-01', _birthDate: { extension: [{ url: 'urn:x', valueString: 'y' }] } } as Resource,
  ];

  it('an expression none of whose root elements is present selects nothing', () => {
    const types = new Set<string>();
    let skipped = 0;
    for (const resource of resources) {
      types.add(resource.resourceType);
      const present = presentElements(resource);
      for (const param of searchParamsFor(resource.resourceType).values()) {
        if (param.type === 'special' || param.type === 'composite') continue;
        const elements = rootElements(param.expression, resource.resourceType);
        if (!elements || elements.some((e) => present.has(e))) continue;
        skipped++;
        expect(evalFhirPathTyped(param.expression, [toTypedValue(resource)]), `${resource.resourceType} ${param.code}`).toEqual([]);
      }
    }
    expect(types.size).toBeGreaterThan(10);
    expect(skipped).toBeGreaterThan(1000);
  });
});
