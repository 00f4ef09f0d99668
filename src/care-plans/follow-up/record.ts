/**
 * Recording a follow-up (issue 6 interface decision): a client POSTs a QuestionnaireResponse to the
 * shipped follow-up Questionnaire, `basedOn` the CarePlan, with the extension `fulfills-task`
 * naming the Task. The engine (an internal subscriber) completes that Task (`output` → the
 * response) and schedules the next follow-up: the form's next-visit date when given, else by the
 * classification — 90 days when controlled, 14 days otherwise (not controlled, adverse reaction,
 * complication: the national standard's "within 2 weeks"). Keyed on the response: a replay writes
 * nothing new.
 */
import type { BundleEntry, QuestionnaireResponse, QuestionnaireResponseItem, Task } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import type { Clock } from '../../clock/clock.ts';
import { runTransaction } from '../../fhir/index.ts';
import type { FhirStore, TransactionContext } from '../../fhir/index.ts';
import type { InternalEvent } from '../../subscriptions/subscription-model.ts';
import { BASE } from '../discharge/discharge-follow-up.ts';
import { addDays } from '../discharge/due-dates.ts';

export const FOLLOW_UP_QUESTIONNAIRE = `${BASE}/Questionnaire/follow-up`;
export const FULFILLS_TASK = `${BASE}/StructureDefinition/fulfills-task`;
const DAYS_BY_CLASSIFICATION: Record<string, number> = { controlled: 90, 'not-controlled': 14, 'adverse-reaction': 14, complication: 14 };

export interface RecordDeps {
  store: FhirStore;
  fhir: TransactionContext;
  logger: Logger;
  /** For a record without `authored`: the next date counts from today (the follow-up clock's, in the hospital's zone). */
  clock: Clock;
  timeZone: string;
}

/** YYYY-MM-DD of an instant in a time zone. */
const localDate = (instant: Date, timeZone: string) => new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(instant);

function answer(items: readonly QuestionnaireResponseItem[] | undefined, linkId: string): NonNullable<QuestionnaireResponseItem['answer']>[number] | undefined {
  for (const item of items ?? []) {
    if (item.linkId === linkId) return item.answer?.[0];
    const nested = answer(item.item, linkId);
    if (nested) return nested;
  }
  return undefined;
}

/**
 * When the next follow-up is due: the form's date, else from the classification counted from the
 * day it was authored (or `today` when it has no date); undefined when neither is given.
 */
export function nextFollowUpDate(response: QuestionnaireResponse, today?: string): string | undefined {
  const stated = answer(response.item, 'next-visit')?.valueDate;
  if (stated) return stated;
  const classification = answer(response.item, 'classification')?.valueCoding?.code;
  const days = classification ? DAYS_BY_CLASSIFICATION[classification] : undefined;
  const authored = response.authored?.slice(0, 10) ?? today;
  return days !== undefined && authored ? addDays(authored, days) : undefined;
}

export function followUpRecordHandler(deps: RecordDeps): (event: InternalEvent) => Promise<void> {
  return async (event) => {
    const response = event.resource as QuestionnaireResponse | undefined;
    if (!response?.id || event.interaction === 'delete' || response.status !== 'completed') return;
    if ((response.questionnaire ?? '').split('|')[0] !== FOLLOW_UP_QUESTIONNAIRE) return;
    const taskRef = response.extension?.find((e) => e.url === FULFILLS_TASK)?.valueReference?.reference;
    const patient = response.subject?.reference;
    if (!taskRef?.startsWith('Task/') || !patient) {
      deps.logger.warn({ response: response.id }, 'follow-up record without fulfills-task or subject: no task completed');
      return;
    }
    let task: Task & { id: string };
    try {
      task = JSON.parse((await deps.store.read('Task', taskRef.slice(5))).content as string) as Task & { id: string };
    } catch {
      deps.logger.warn({ response: response.id, task: taskRef }, 'follow-up record names a task that does not exist');
      return;
    }
    const entries: BundleEntry[] = [];
    const output = [{ type: { text: 'follow-up record' }, valueReference: { reference: `QuestionnaireResponse/${response.id}` } }];
    if (task.status !== 'completed' || JSON.stringify(task.output) !== JSON.stringify(output)) {
      const { meta: _meta, ...rest } = task;
      entries.push({ resource: { ...rest, status: 'completed', output, ...(response.authored ? { executionPeriod: { end: response.authored } } : {}) }, request: { method: 'PUT', url: `Task/${task.id}` } });
    }
    const due = nextFollowUpDate(response, localDate(deps.clock.now(), deps.timeZone));
    if (due) {
      const system = `${BASE}/NamingSystem/task`;
      const value = `${response.id}#next`;
      const basedOn = response.basedOn?.length ? response.basedOn : task.basedOn;
      entries.push({
        resource: {
          resourceType: 'Task',
          identifier: [{ system, value }],
          status: 'requested',
          intent: 'plan',
          // Not controlled (or a reaction, a complication): the sooner visit is also the more urgent one.
          priority: (answer(response.item, 'classification')?.valueCoding?.code ?? 'controlled') === 'controlled' ? 'routine' : 'urgent',
          code: { coding: [{ system: `${BASE}/CodeSystem/task-type`, code: 'follow-up' }] },
          description: 'Next follow-up',
          for: { reference: patient },
          ...(basedOn ? { basedOn } : {}),
          focus: { reference: `QuestionnaireResponse/${response.id}` },
          ...(response.authored ? { authoredOn: response.authored } : {}),
          restriction: { period: { end: due } },
          ...(task.owner ? { owner: task.owner } : {}),
        } satisfies Task,
        request: { method: 'PUT', url: `Task?identifier=${encodeURIComponent(`${system}|${value}`)}` },
      });
    }
    if (!entries.length) return;
    await runTransaction(deps.fhir, deps.store, { resourceType: 'Bundle', type: 'transaction', entry: entries });
    deps.logger.info({ response: response.id, task: task.id, next: due }, 'follow-up recorded');
  };
}
