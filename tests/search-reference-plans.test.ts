// Every query that finds resources by what they refer to reads search_reference through an index
// (migration 0023: one index by target, `search_reference_by_target`, serves what two did).
// The statements the server really sends for each kind of request — searches by reference, bare
// ids, chains, typed references, compartments, _revinclude (named and `*`), _has and $everything —
// are read off the wire as they go to PostgreSQL and EXPLAINed against a table of 60,000 rows.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { watchQueries } from './helpers/round-trips.ts';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer();

let explainer: pg.Client;
let patientId: string;

beforeAll(async () => {
  explainer = new pg.Client({ connectionString: server.databaseUrl });
  await explainer.connect();
  // Sixty thousand resources of three types, each referring to one of two thousand patients:
  // enough that a whole-table read costs the planner more than any index would.
  await explainer.query(`
    WITH filler AS (SELECT (ARRAY['Observation', 'Condition', 'Encounter'])[1 + n % 3] AS resource_type, 'filler-' || n AS id, 'p-' || (n % 2000) AS patient
                      FROM generate_series(1, 60000) AS n),
    resources AS (INSERT INTO fhir_resource (resource_type, id, version_id, last_updated, deleted, content)
                  SELECT resource_type, id, 1, now(), false, json_build_object('resourceType', resource_type, 'id', id)::text FROM filler)
    INSERT INTO search_reference (resource_type, resource_id, code, target_type, target_id, reference)
    SELECT resource_type, id, 'subject', 'Patient', patient, 'Patient/' || patient FROM filler`);
  await explainer.query('ANALYZE search_reference; ANALYZE fhir_resource');
  const create = async (resource: Record<string, unknown>) => {
    const res = await server.fhir(resource.resourceType as string, { method: 'POST', body: resource });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id as string;
  };
  patientId = await create({ resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: 'MRN-1' }], name: [{ family: '张' }] });
  const encounterId = await create({ resourceType: 'Encounter', status: 'finished', class: { code: 'IMP' }, subject: { reference: `Patient/${patientId}` } });
  await create({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    subject: { reference: `Patient/${patientId}` },
    encounter: { reference: `Encounter/${encounterId}` },
  });
});
afterAll(async () => {
  await explainer.end();
});

describe('queries by reference', () => {
  it('read search_reference by index for every kind of request, the target index wherever they name a target', async () => {
    const paths = () => [
      `Observation?subject=Patient/${patientId}`,
      `Observation?subject=${patientId}`,
      `Observation?patient=Patient/${patientId}`,
      'Observation?subject.identifier=urn:mrn|MRN-1',
      `Patient/${patientId}/Observation`,
      `Patient?_id=${patientId}&_revinclude=Observation:subject`,
      `Patient?_id=${patientId}&_revinclude=*`,
      `Patient?_has:Observation:subject:code=8867-4`,
      `Patient/${patientId}/$everything`,
    ];
    for (const path of paths()) {
      const { bound } = await watchQueries(server.pool, async () => {
        const res = await server.fhir(path);
        expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(200);
        expect(res.body.entry?.length ?? 0, path).toBeGreaterThan(0);
      });
      const sent = bound.filter((s) => s.text.includes('search_reference'));
      expect(sent.length, path).toBeGreaterThan(0);
      for (const s of sent) {
        const { rows } = await explainer.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${s.text}`, s.values);
        const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
        expect(plan, `${path}\n${s.text}`).not.toMatch(/Seq Scan on search_reference/);
        if (/target_id\s*(=|IN)/.test(s.text)) expect(plan, `${path}\n${s.text}`).toMatch(/search_reference_by_target/);
      }
    }
  });
});
