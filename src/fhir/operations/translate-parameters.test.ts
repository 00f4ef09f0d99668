// ConceptMap/$translate inputs and outputs (http://hl7.org/fhir/R4/conceptmap-operation-translate.html#parameters):
// URL/form parameters (http://hl7.org/fhir/R4/operations.html#request), a Parameters body, and the
// Parameters answered.
import { describe, expect, it } from 'vitest';
import { FhirError } from '../errors.ts';
import { translateParamsFromParameters, translateParamsFromQuery, translateResultParameters } from './translate-parameters.ts';

function errorOf(fn: () => unknown): FhirError {
  try {
    fn();
  } catch (err) {
    if (err instanceof FhirError) return err;
    throw err;
  }
  throw new Error('expected a FhirError');
}

describe('translateParamsFromQuery', () => {
  it('reads the primitive inputs and ignores names the operation does not define', () => {
    const q = new URLSearchParams({ url: 'urn:m', conceptMapVersion: '2', system: 'urn:s', version: 'v', code: '1', source: 'urn:vs1', target: 'urn:vs2', targetsystem: 'urn:t', reverse: 'true', _format: 'json' });
    expect(translateParamsFromQuery(q)).toEqual({ url: 'urn:m', conceptMapVersion: '2', system: 'urn:s', version: 'v', code: '1', source: 'urn:vs1', target: 'urn:vs2', targetsystem: 'urn:t', reverse: true });
  });

  it('rejects complex and unsupported inputs, repeats and a bad reverse, naming the parameter', () => {
    for (const [qs, name] of [['coding=x', 'coding'], ['dependency=x', 'dependency'], ['code=1&code=2', 'code'], ['reverse=yes', 'reverse']]) {
      const err = errorOf(() => translateParamsFromQuery(new URLSearchParams(qs)));
      expect(err.errorCode).toBe('CB_ERR_INVALID_OPERATION_PARAMETER');
      expect(err.outcome.issue?.[0]?.expression).toEqual([name]);
    }
  });
});

describe('translateParamsFromParameters', () => {
  it('reads each input from its value[x]', () => {
    const params = translateParamsFromParameters({
      resourceType: 'Parameters',
      parameter: [
        { name: 'url', valueUri: 'urn:m' },
        { name: 'coding', valueCoding: { system: 'urn:s', code: '1' } },
        { name: 'targetsystem', valueUri: 'urn:t' },
        { name: 'reverse', valueBoolean: false },
        { name: 'unknown', valueString: 'ignored' },
      ],
    });
    expect(params).toEqual({ url: 'urn:m', coding: { system: 'urn:s', code: '1' }, targetsystem: 'urn:t', reverse: false });
    expect(translateParamsFromParameters({ resourceType: 'Parameters', parameter: [{ name: 'codeableConcept', valueCodeableConcept: { text: 't' } }, { name: 'code', valueString: 'x' }] })).toEqual({
      codeableConcept: { text: 't' },
      code: 'x',
    });
  });

  it('rejects a value of the wrong type, repeats and unsupported inputs', () => {
    const wrongType = errorOf(() => translateParamsFromParameters({ resourceType: 'Parameters', parameter: [{ name: 'coding', valueString: 'urn:s|1' }] }));
    expect(wrongType.message).toMatch(/coding must have valueCoding/);
    const repeat = errorOf(() => translateParamsFromParameters({ resourceType: 'Parameters', parameter: [{ name: 'system', valueUri: 'a' }, { name: 'system', valueUri: 'b' }] }));
    expect(repeat.outcome.issue?.[0]?.expression).toEqual(['system']);
    const inline = errorOf(() => translateParamsFromParameters({ resourceType: 'Parameters', parameter: [{ name: 'conceptMap', resource: { resourceType: 'ConceptMap', status: 'draft' } }] }));
    expect(inline.errorCode).toBe('CB_ERR_INVALID_OPERATION_PARAMETER');
  });
});

describe('translateResultParameters', () => {
  it('answers result, message and one match part per match', () => {
    expect(translateResultParameters({ result: true, matches: [{ equivalence: 'equivalent', concept: { system: 'urn:t', code: 'a' }, source: 'urn:m' }] })).toEqual({
      resourceType: 'Parameters',
      parameter: [
        { name: 'result', valueBoolean: true },
        { name: 'match', part: [{ name: 'equivalence', valueCode: 'equivalent' }, { name: 'concept', valueCoding: { system: 'urn:t', code: 'a' } }, { name: 'source', valueUri: 'urn:m' }] },
      ],
    });
    expect(translateResultParameters({ result: false, message: 'No mapping', matches: [] }).parameter).toEqual([
      { name: 'result', valueBoolean: false },
      { name: 'message', valueString: 'No mapping' },
    ]);
  });
});
