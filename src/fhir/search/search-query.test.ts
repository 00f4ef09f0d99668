// Search parameter parsing (http://hl7.org/fhir/R4/search.html): prefixes, modifiers, escaping,
// result parameters, lenient vs strict handling of unknown parameters.
import { describe, expect, it } from 'vitest';
import { FhirError } from '../errors.ts';
import { parseSearchQuery, splitEscaped } from './search-query.ts';

const parse = (type: string, qs: string, strict = false) => parseSearchQuery(type, new URLSearchParams(qs), strict);

describe('parseSearchQuery', () => {
  it('reads prefixes on dates, numbers and quantities, but not on tokens', () => {
    const q = parse('Observation', 'date=ge2024-03-01&value-quantity=lt5.4|http://unitsofmeasure.org|mmol/L&code=ge123');
    expect(q.filters[0]).toMatchObject({ code: 'date', type: 'date', values: [{ prefix: 'ge', value: '2024-03-01' }] });
    expect(q.filters[1]).toMatchObject({ type: 'quantity', values: [{ prefix: 'lt', parts: ['5.4', 'http://unitsofmeasure.org', 'mmol/L'] }] });
    expect(q.filters[2]).toMatchObject({ type: 'token', values: [{ prefix: 'eq', parts: ['ge123'] }] });
  });

  it('splits OR values on unescaped commas and resolves escapes', () => {
    const q = parse('Patient', 'family=a\\,b,c');
    expect(q.filters[0]!.values.map((v) => v.value)).toEqual(['a,b', 'c']);
    expect(splitEscaped('x\\|y|z', '|')).toEqual(['x|y', 'z']);
  });

  it('keeps repeated parameters as separate AND filters', () => {
    const q = parse('Encounter', 'date=ge2024-03-01&date=le2024-03-31');
    expect(q.filters).toHaveLength(2);
  });

  it('reads _count (capped at 1000), _offset, _total, _sort and _summary=count', () => {
    const q = parse('Patient', '_count=5000&_offset=40&_total=accurate&_sort=-_lastUpdated,_id&_summary=count');
    expect(q).toMatchObject({ count: 1000, offset: 40, total: 'accurate', summaryCount: true });
    expect(q.sort).toEqual([{ code: '_lastUpdated', descending: true }, { code: '_id', descending: false }]);
  });

  it('reports unknown parameters and modifiers when lenient, and rejects them when strict', () => {
    const q = parse('Patient', 'foo=1&name:sounds-like=x&gender=male');
    expect(q.filters.map((f) => f.code)).toEqual(['gender']);
    expect(q.ignored.map((i) => i.expression?.[0])).toEqual(['foo', 'name:sounds-like']);
    expect(() => parse('Patient', 'foo=1', true)).toThrow(FhirError);
  });

  it('rejects malformed values with a message naming the parameter', () => {
    for (const qs of ['birthdate=1960-13-01', 'birthdate=gtyesterday', '_count=ten', 'value-quantity=abc', 'gender:missing=maybe', '_id=has space']) {
      const type = qs.startsWith('value') ? 'Observation' : 'Patient';
      expect(() => parse(type, qs), qs).toThrow(FhirError);
    }
    try {
      parse('Patient', 'birthdate=1960-13-01');
    } catch (err) {
      expect((err as FhirError).outcome.issue?.[0]?.expression).toEqual(['birthdate']);
    }
  });

  it('accepts a resource type as a reference modifier', () => {
    expect(parse('Observation', 'subject:Patient=123').filters[0]).toMatchObject({ modifier: 'Patient' });
  });

  it('answers an unknown resource type with a not-supported error', () => {
    expect(() => parse('Pateint', 'name=x')).toThrow(/Unknown resource type/);
  });
});
