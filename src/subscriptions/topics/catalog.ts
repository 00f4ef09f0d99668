/**
 * The subscription topics CareBridge serves (R5 Backport IG for R4: a topic-based Subscription's
 * `criteria` is one of these canonical URLs). A topic says which writes of one resource type are
 * events — the interactions, and for some a state change tested on the previous and the current
 * version (R5 SubscriptionTopic.resourceTrigger.queryCriteria) — and which search parameters a
 * subscriber may filter on. The catalog is code, not data: the engine has to honour every topic it
 * advertises; `publish.ts` writes it to the store as `Basic` resources for clients to read.
 */

export type Interaction = 'create' | 'update' | 'delete';

/** R5 SubscriptionTopic.resourceTrigger.queryCriteria: search tests on the previous and current version. */
export interface QueryCriteria {
  /** A search (`status:not=finished`) the version before the write must pass. */
  previous?: string;
  /** What a create (no previous version) counts as. */
  resultForCreate: 'test-passes' | 'test-fails';
  /** A search (`status=finished`) the version written must pass. */
  current?: string;
  /** What a delete (no current version) counts as. */
  resultForDelete: 'test-passes' | 'test-fails';
  /** Both tests must pass (else either). */
  requireBoth: boolean;
}

export interface FilterParameter {
  /** A search parameter of the topic's resource type. */
  parameter: string;
  description: string;
}

export interface Topic {
  url: string;
  /** A short name (used in ids of the published Basic resources). */
  name: string;
  title: string;
  description: string;
  resourceType: string;
  interactions: readonly Interaction[];
  queryCriteria?: QueryCriteria;
  /** An update is an event only when this element changed (e.g. Task.status). */
  changedElement?: string;
  canFilterBy: readonly FilterParameter[];
  /** A reference element of the resource whose target is sent as additional context (full-resource). */
  additionalContext?: string;
}

export const TOPIC_BASE = 'https://carebridge.dev/fhir/SubscriptionTopic';

const patient: FilterParameter = { parameter: 'patient', description: 'The patient (Patient/{id})' };
const subject: FilterParameter = { parameter: 'subject', description: 'The subject (Patient/{id}, Group/{id})' };
const encounter: FilterParameter = { parameter: 'encounter', description: 'The encounter (Encounter/{id})' };

const taskFilters: readonly FilterParameter[] = [
  patient,
  { parameter: 'owner', description: 'Who is to do the task' },
  { parameter: 'code', description: 'Task type (https://carebridge.dev/fhir/CodeSystem/task-type: follow-up, alert, missed-report, …)' },
  { parameter: 'status', description: 'Task status' },
  { parameter: 'priority', description: 'routine | urgent | asap | stat' },
  { parameter: 'focus', description: 'What the task is about' },
  { parameter: 'based-on', description: 'The CarePlan the task belongs to' },
];

export const TOPICS: readonly Topic[] = [
  {
    url: `${TOPIC_BASE}/encounter-discharge`,
    name: 'encounter-discharge',
    title: 'Encounter discharged',
    description: 'An Encounter becomes finished (a discharge; created finished counts too).',
    resourceType: 'Encounter',
    interactions: ['create', 'update'],
    queryCriteria: { previous: 'status:not=finished', resultForCreate: 'test-passes', current: 'status=finished', resultForDelete: 'test-fails', requireBoth: true },
    canFilterBy: [
      patient,
      subject,
      { parameter: 'class', description: 'Encounter class (v3 ActCode: IMP inpatient, EMER, AMB, …)' },
      { parameter: 'service-provider', description: 'The organization (hospital) responsible' },
      { parameter: 'identifier', description: 'A visit number' },
    ],
    additionalContext: 'subject',
  },
  {
    url: `${TOPIC_BASE}/patient`,
    name: 'patient',
    title: 'Patient created or updated',
    description: 'A Patient is created or updated.',
    resourceType: 'Patient',
    interactions: ['create', 'update'],
    canFilterBy: [
      { parameter: '_id', description: 'The patient' },
      { parameter: 'identifier', description: 'An identifier (e.g. a medical record number)' },
      { parameter: 'organization', description: 'The managing organization' },
      { parameter: 'general-practitioner', description: 'The patient\'s nominated primary care provider' },
    ],
  },
  {
    url: `${TOPIC_BASE}/observation-create`,
    name: 'observation-create',
    title: 'Observation created',
    description: 'A new Observation (a lab result, a home reading, a vital sign).',
    resourceType: 'Observation',
    interactions: ['create'],
    canFilterBy: [
      patient,
      subject,
      { parameter: 'code', description: 'What was observed (e.g. http://loinc.org|8480-6)' },
      { parameter: 'category', description: 'laboratory | vital-signs | …' },
      encounter,
      { parameter: 'status', description: 'Observation status' },
    ],
    additionalContext: 'subject',
  },
  {
    url: `${TOPIC_BASE}/medication-request`,
    name: 'medication-request',
    title: 'MedicationRequest created, updated or deleted',
    description: 'A medication order (e.g. discharge medication) is created, changed or deleted.',
    resourceType: 'MedicationRequest',
    interactions: ['create', 'update', 'delete'],
    canFilterBy: [
      patient,
      subject,
      encounter,
      { parameter: 'status', description: 'Order status' },
      { parameter: 'intent', description: 'order | plan | …' },
      { parameter: 'code', description: 'The medication code' },
    ],
    additionalContext: 'subject',
  },
  {
    url: `${TOPIC_BASE}/task`,
    name: 'task',
    title: 'Task created, updated or deleted',
    description: 'A Task (follow-up, alert, reminder) is created, changed or deleted.',
    resourceType: 'Task',
    interactions: ['create', 'update', 'delete'],
    canFilterBy: taskFilters,
  },
  {
    url: `${TOPIC_BASE}/task-status-change`,
    name: 'task-status-change',
    title: 'Task status changed',
    description: 'A Task\'s status changes (requested → in-progress → completed, cancelled, …).',
    resourceType: 'Task',
    interactions: ['update'],
    changedElement: 'status',
    canFilterBy: taskFilters,
  },
  {
    url: `${TOPIC_BASE}/risk-assessment-create`,
    name: 'risk-assessment-create',
    title: 'RiskAssessment created',
    description: 'A new risk score (e.g. readmission risk after discharge).',
    resourceType: 'RiskAssessment',
    interactions: ['create'],
    canFilterBy: [patient, subject, encounter, { parameter: 'method', description: 'The score (https://carebridge.dev/fhir/CodeSystem/risk-method|LACE, HOSPITAL)' }],
    additionalContext: 'subject',
  },
];

const byUrl = new Map(TOPICS.map((t) => [t.url, t]));

/** The topic with this canonical URL (a `|version` suffix is ignored). */
export function topicByUrl(url: string): Topic | undefined {
  return byUrl.get(url.split('|')[0]!);
}
