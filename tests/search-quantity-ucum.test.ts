// Quantity search across UCUM units (http://hl7.org/fhir/R4/search.html#quantity: "the server may
// choose to perform unit conversions"): haemoglobin may arrive in g/dL or g/L.
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer();
const id: Record<string, string> = {};
beforeAll(async () => {
  const hb = (value: number, code: string, system = 'http://unitsofmeasure.org') => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] },
    valueQuantity: { value, unit: code, system, code },
  });
  for (const [name, body] of Object.entries({ dl14: hb(14, 'g/dL'), l135: hb(135, 'g/L'), l150: hb(150, 'g/L'), local: hb(14, 'g/dL', 'urn:local-units'), temp: hb(37, 'Cel') })) {
    id[name] = (await server.fhir('Observation', { method: 'POST', body })).body.id;
  }
});

const ids = async (qs: string) => ((await server.fhir(`Observation?${qs}`)).body.entry ?? []).map((e: any) => e.resource.id).sort();

describe('quantity search in UCUM canonical units', () => {
  it('compares g/dL and g/L values as the same dimension', async () => {
    expect(await ids(`value-quantity=${encodeURIComponent('gt13.8|http://unitsofmeasure.org|g/dL')}`)).toEqual([id.dl14, id.l150].sort());
    expect(await ids(`value-quantity=${encodeURIComponent('ge130|http://unitsofmeasure.org|g/L')}`)).toEqual([id.dl14, id.l135, id.l150].sort());
    expect(await ids(`value-quantity=${encodeURIComponent('lt14|http://unitsofmeasure.org|g/dL')}`)).toEqual([id.l135]);
  });

  it('matches eq with the precision of the search value, in either unit', async () => {
    expect(await ids(`value-quantity=${encodeURIComponent('140|http://unitsofmeasure.org|g/L')}`)).toEqual([id.dl14]);
    expect(await ids(`value-quantity=${encodeURIComponent('14.0|http://unitsofmeasure.org|g/dL')}`)).toEqual([id.dl14]);
    // "14" means [13.5, 14.5) g/dL, which holds 135 g/L too
    expect(await ids(`value-quantity=${encodeURIComponent('14|http://unitsofmeasure.org|g/dL')}`)).toEqual([id.dl14, id.l135].sort());
  });

  it('keeps non-UCUM systems and offset units to their own code', async () => {
    expect(await ids(`value-quantity=${encodeURIComponent('14|urn:local-units|g/dL')}`)).toEqual([id.local]);
    expect(await ids(`value-quantity=${encodeURIComponent('37|http://unitsofmeasure.org|Cel')}`)).toEqual([id.temp]);
    expect(await ids(`value-quantity=${encodeURIComponent('gt1|http://unitsofmeasure.org|kg')}`)).toEqual([]); // mass, not concentration
  });
});
