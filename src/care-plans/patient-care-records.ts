/**
 * A patient's active CarePlans and open (requested) Tasks: what the follow-up engine's checks of a
 * new reading look at — the plans for threshold overrides and the alert's basedOn, the open
 * follow-up and missed-report Tasks to bring forward or complete. Read together in one statement
 * (FhirStore.findReferencing) the first time a check needs them and shared
 * by the checks of the readings of one batch (observation-follow-up.ts): three searches per
 * reading before, each costing more to plan than to run. A check that writes calls invalidate(),
 * so the next reading sees what it wrote.
 */
import type { CarePlan, Task } from '@medplum/fhirtypes';
import type { FhirStore } from '../fhir/index.ts';

const TASK_TYPE = 'https://carebridge.dev/fhir/CodeSystem/task-type';

interface Records {
  plans: Array<CarePlan & { id: string }>;
  tasks: Array<Task & { id: string }>;
}

export class PatientCareRecords {
  readonly #store: FhirStore;
  readonly #patient: string;
  #records: Promise<Records> | undefined;

  /** `patient` is a `Patient/id` reference. */
  constructor(store: FhirStore, patient: string) {
    this.#store = store;
    this.#patient = patient;
  }

  /** The records a caller shares when they are this patient's, else the patient's own. */
  static of(store: FhirStore, patient: string, shared: PatientCareRecords | undefined): PatientCareRecords {
    return shared?.patient === patient ? shared : new PatientCareRecords(store, patient);
  }

  get patient(): string {
    return this.#patient;
  }

  /** The patient's active CarePlans, most recently updated first (as `_sort=-_lastUpdated`). */
  async activePlans(): Promise<Array<CarePlan & { id: string }>> {
    return (await this.#load()).plans;
  }

  /** The patient's requested Tasks of a task type (`Task.code` from the task-type CodeSystem). */
  async openTasks(taskType: string): Promise<Array<Task & { id: string }>> {
    return (await this.#load()).tasks.filter((t) => t.code?.coding?.some((c) => c.system === TASK_TYPE && c.code === taskType));
  }

  /** Forget what was read: the caller wrote plans or tasks of this patient. */
  invalidate(): void {
    this.#records = undefined;
  }

  #load(): Promise<Records> {
    if (!this.#records) {
      const reading = this.#read();
      // A failed read is not kept: the retry reads again.
      reading.catch(() => {
        if (this.#records === reading) this.#records = undefined;
      });
      this.#records = reading;
    }
    return this.#records;
  }

  async #read(): Promise<Records> {
    // Statuses of both types in one list: no Task status is "active" and no CarePlan status is
    // "requested", so each type keeps exactly its own (checked again below all the same).
    const versions = await this.#store.findReferencing(
      this.#patient,
      [
        { resourceType: 'CarePlan', param: 'subject' },
        { resourceType: 'Task', param: 'patient' },
      ],
      ['active', 'requested'],
    );
    const plans: Records['plans'] = [];
    const tasks: Records['tasks'] = [];
    for (const v of versions) {
      const resource = JSON.parse(v.content as string) as (CarePlan | Task) & { id: string };
      if (resource.resourceType === 'CarePlan' && resource.status === 'active') plans.push(resource);
      else if (resource.resourceType === 'Task' && resource.status === 'requested') tasks.push(resource);
    }
    const updated = (r: { meta?: { lastUpdated?: string } }) => r.meta?.lastUpdated ?? '';
    plans.sort((a, b) => updated(b).localeCompare(updated(a)) || a.id.localeCompare(b.id));
    tasks.sort((a, b) => a.id.localeCompare(b.id));
    return { plans, tasks };
  }
}
