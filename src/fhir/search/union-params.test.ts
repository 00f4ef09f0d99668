import { describe, expect, it } from 'vitest';
import { allResourceTypes, baseSearchParams, loadDefinitions } from '../definitions.ts';
import { extractIndexRows } from './index-rows.ts';
import { indexCodes, unionBranches, unionParts } from './union-params.ts';

loadDefinitions();

describe('union parameters', () => {
  it("finds R4's six, all Observation combo-* parameters, and nothing else", () => {
    const found: string[] = [];
    for (const type of allResourceTypes()) {
      for (const code of baseSearchParams(type).keys()) {
        const parts = unionParts(type, code);
        if (parts) found.push(`${type}.${code} = ${[...parts].sort().join(' | ')}`);
      }
    }
    expect(found.sort()).toEqual([
      'Observation.combo-code = code | component-code',
      'Observation.combo-code-value-concept = code-value-concept | component-code-value-concept',
      'Observation.combo-code-value-quantity = code-value-quantity | component-code-value-quantity',
      'Observation.combo-data-absent-reason = component-data-absent-reason | data-absent-reason',
      'Observation.combo-value-concept = component-value-concept | value-concept',
      'Observation.combo-value-quantity = component-value-quantity | value-quantity',
    ]);
  });

  it('a search on any other parameter reads its own rows', () => {
    expect(indexCodes('Observation', 'code')).toEqual(['code']);
    expect(indexCodes('Observation', 'patient')).toEqual(['patient']);
    expect(indexCodes('Condition', 'code')).toEqual(['code']);
  });

  it('stores no rows for a union: its parts hold every value it selects', () => {
    const rows = extractIndexRows({
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
      component: [{ code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 150, system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } }],
      valueQuantity: { value: 1, system: 'http://unitsofmeasure.org', code: '1' },
    });
    const codes = (table: keyof typeof rows) => rows[table].map((r) => r[0]);
    expect(codes('token').filter((c) => c.startsWith('combo-'))).toEqual([]);
    expect(codes('quantity').filter((c) => c.startsWith('combo-'))).toEqual([]);
    expect(codes('composite').filter((c) => c.startsWith('combo-'))).toEqual([]);
    expect(codes('token')).toEqual(expect.arrayContaining(['code', 'component-code']));
    expect(codes('quantity')).toEqual(expect.arrayContaining(['value-quantity', 'component-value-quantity']));
    expect(codes('composite')).toEqual(expect.arrayContaining(['code-value-quantity', 'component-code-value-quantity']));
  });
});

describe('unionBranches', () => {
  it('splits a top-level union, dropping outer parentheses', () => {
    expect(unionBranches('(Observation.code | Observation.component.code)')).toEqual(['Observation.code', 'Observation.component.code']);
    expect(unionBranches('((a | b)) | (c)')).toEqual(['a | b', 'c']); // nested unions are split again by the caller
  });

  it('does not split inside parentheses, brackets, strings or delimited identifiers', () => {
    expect(unionBranches('a.where(b | c)')).toEqual(['a.where(b | c)']);
    expect(unionBranches("a.where(b = 'x | y') | c")).toEqual(["a.where(b = 'x | y')", 'c']);
    expect(unionBranches("a.where(b = 'it\\'s | odd')")).toEqual(["a.where(b = 'it\\'s | odd')"]);
    expect(unionBranches('a.`odd | name` | b')).toEqual(['a.`odd | name`', 'b']);
    expect(unionBranches('(a) | (b)')).toEqual(['a', 'b']);
  });
});
