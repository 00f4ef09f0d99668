// FhirStore.findReferencing: the follow-up engine's one-statement read of a patient's plans and
// open tasks must find exactly what the equivalent searches find — current versions only, deleted
// and re-pointed resources excluded, the status filter exact — and refuse what is not a reference.
import { describe, expect, it } from 'vitest';
import { PgFhirStore } from '../src/fhir/index.ts';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer({ SUBSCRIPTION_ENGINE: 'off' });

describe('findReferencing', () => {
  it('agrees with the searches it stands for', async () => {
    const store = new PgFhirStore(server.pool);
    const task = (patient: string, status: string) => store.create({ resourceType: 'Task', status, intent: 'order', for: { reference: patient } } as never);
    const plan = (patient: string, status: string) => store.create({ resourceType: 'CarePlan', status, intent: 'plan', subject: { reference: patient } } as never);
    const patient = 'Patient/ref-a';
    await task(patient, 'requested');
    await task(patient, 'requested');
    await task(patient, 'completed');
    await task('Patient/ref-b', 'requested');
    await plan(patient, 'active');
    await plan(patient, 'completed');
    const gone = await task(patient, 'requested');
    await store.delete('Task', gone.version.id);
    // Moved to another patient: no longer found for the first.
    const moved = await task(patient, 'requested');
    await store.update({ resourceType: 'Task', id: moved.version.id, status: 'requested', intent: 'order', for: { reference: 'Patient/ref-b' } } as never);
    // Completed since: found without a status filter, not with one.
    const done = await plan(patient, 'active');
    await store.update({ resourceType: 'CarePlan', id: done.version.id, status: 'completed', intent: 'plan', subject: { reference: patient } } as never);

    const ids = (versions: Array<{ resourceType: string; id: string }>) => versions.map((v) => `${v.resourceType}/${v.id}`).sort();
    const searched = async (...queries: string[]) => {
      const out: string[] = [];
      for (const q of queries) out.push(...((await server.fhir(`${q}&_count=100`)).body.entry ?? []).map((e: any) => `${e.resource.resourceType}/${e.resource.id}`));
      return out.sort();
    };
    const sources = [
      { resourceType: 'CarePlan', param: 'subject' },
      { resourceType: 'Task', param: 'patient' },
    ];
    const open = await store.findReferencing(patient, sources, ['active', 'requested']);
    expect(ids(open)).toEqual(await searched(`CarePlan?subject=${patient}&status=active,requested`, `Task?patient=${patient}&status=active,requested`));
    expect(open.map((v) => v.resourceType).sort()).toEqual(['CarePlan', 'Task', 'Task']);
    const all = await store.findReferencing(patient, sources);
    expect(ids(all)).toEqual(await searched(`CarePlan?subject=${patient}`, `Task?patient=${patient}`));
    expect(all).toHaveLength(6);
    expect(all.every((v) => !v.deleted && v.content)).toBe(true);
    expect(await store.findReferencing(patient, sources, [])).toEqual([]);
    expect(await store.findReferencing('Patient/nobody', sources, ['requested'])).toEqual([]);
  });

  it('refuses a target that is not Type/id and a parameter that is not a reference', async () => {
    const store = new PgFhirStore(server.pool);
    await expect(store.findReferencing('ref-a', [{ resourceType: 'Task', param: 'patient' }])).rejects.toThrow(/not a Type\/id reference/);
    await expect(store.findReferencing('Nonsense/x', [{ resourceType: 'Task', param: 'patient' }])).rejects.toThrow(/not a Type\/id reference/);
    await expect(store.findReferencing('Patient/x', [{ resourceType: 'Task', param: 'status' }])).rejects.toThrow(/status is not a reference search parameter of Task/);
    await expect(store.findReferencing('Patient/x', [{ resourceType: 'Task', param: 'nope' }])).rejects.toThrow(/not a reference search parameter/);
    await expect(store.findReferencing('Patient/x', [{ resourceType: 'Nonsense', param: 'patient' }])).rejects.toThrow(/Nonsense/);
  });
});
