// Search parameter parsing (http://hl7.org/fhir/R4/search.html): prefixes, modifiers, escaping,
// result parameters, lenient vs strict handling of unknown parameters.
import { describe, expect, it } from 'vitest';
import { FhirError } from '../errors.ts';
import { parseSearchQuery, splitEscaped } from './search-query.ts';
import type { ParamFilter } from './search-query.ts';

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
    const f = q.filters[0] as ParamFilter;
    expect(f.values.map((v) => v.value)).toEqual(['a,b', 'c']);
    expect(splitEscaped('x\\|y|z', '|')).toEqual(['x|y', 'z']);
  });

  it('keeps repeated parameters as separate AND filters', () => {
    const q = parse('Encounter', 'date=ge2024-03-01&date=le2024-03-31');
    expect(q.filters).toHaveLength(2);
  });

  it('reads _count (capped at 1000), _offset, _total, _sort and _summary=count', () => {
    const q = parse('Patient', '_count=5000&_offset=40&_total=accurate&_sort=-_lastUpdated,_id,birthdate&_summary=count');
    expect(q).toMatchObject({ count: 1000, offset: 40, total: 'accurate', summary: 'count' });
    expect(q.sort).toEqual([
      { code: '_lastUpdated', type: 'lastUpdated', descending: true },
      { code: '_id', type: 'id', descending: false },
      { code: 'birthdate', type: 'date', descending: false },
    ]);
  });

  it('reports unknown parameters and modifiers when lenient, and rejects them when strict', () => {
    const q = parse('Patient', 'foo=1&name:sounds-like=x&gender=male');
    expect(q.filters.map((f) => (f as ParamFilter).code)).toEqual(['gender']);
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

  it('parses chains into one branch per target type that has the chained parameter', () => {
    const q = parse('Observation', 'subject.identifier=urn:x|1&subject:Patient.name=张');
    expect(q.filters[0]).toMatchObject({ kind: 'chain', code: 'subject' });
    const branches = (q.filters[0] as { branches: Array<{ targetType: string }> }).branches.map((b) => b.targetType);
    expect(branches).toEqual(expect.arrayContaining(['Patient', 'Group', 'Device', 'Location']));
    expect(q.filters[1]).toMatchObject({ kind: 'chain', branches: [{ targetType: 'Patient', inner: { kind: 'param', code: 'name', type: 'string' } }] });
  });

  it('parses multi-level chains and nested _has', () => {
    const q = parse('Observation', 'subject:Patient.general-practitioner:Practitioner.name=Li&_has:Provenance:target:agent=Practitioner/1');
    expect(q.filters[0]).toMatchObject({ kind: 'chain', branches: [{ targetType: 'Patient', inner: { kind: 'chain', code: 'general-practitioner', branches: [{ targetType: 'Practitioner' }] } }] });
    const nested = parse('Patient', '_has:Observation:subject:_has:Provenance:target:agent=Practitioner/1').filters[0];
    expect(nested).toMatchObject({ kind: 'has', sourceType: 'Observation', referenceCode: 'subject', inner: { kind: 'has', sourceType: 'Provenance' } });
  });

  it('parses composite values on $ and rejects a missing part', () => {
    const q = parse('Observation', 'code-value-quantity=http://loinc.org|8480-6$gt140');
    expect(q.filters[0]).toMatchObject({ kind: 'composite', code: 'code-value-quantity', secondType: 'quantity', values: [[{ parts: ['http://loinc.org', '8480-6'] }, { prefix: 'gt', value: '140' }]] });
    expect(() => parse('Observation', 'code-value-quantity=8480-6')).toThrow(FhirError);
  });

  it('reads _include/_revinclude with :iterate, and reports unknown ones', () => {
    const q = parse('Encounter', '_revinclude=Condition:encounter&_include=Encounter:subject:Patient&_include:iterate=Patient:general-practitioner&_include=Encounter:nope');
    expect(q.include).toEqual([
      { reverse: true, iterate: false, sourceType: 'Condition', code: 'encounter', targetType: undefined },
      { reverse: false, iterate: false, sourceType: 'Encounter', code: 'subject', targetType: 'Patient' },
      { reverse: false, iterate: true, sourceType: 'Patient', code: 'general-practitioner', targetType: undefined },
    ]);
    expect(q.ignored).toHaveLength(1);
  });

  it('answers an unknown resource type with a not-supported error', () => {
    expect(() => parse('Pateint', 'name=x')).toThrow(/Unknown resource type/);
  });
});
