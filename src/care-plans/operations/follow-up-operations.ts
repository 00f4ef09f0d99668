/**
 * The follow-up engine's FHIR operations (issue 6 interface decisions), registered as extra
 * operations of the FHIR API:
 *
 * - `GET|POST /fhir/Patient/{id}/$adherence?start=&end=` — Parameters with one `drugClass` per
 *   class of the patient's medication: `class` (Coding), `pdc` (decimal 0–1), `adherent`
 *   (boolean, PDC ≥ 0.8), `coveredDays`, `periodDays`, `firstFill`, `source`. The period defaults
 *   to the 180 days up to today (the follow-up clock's).
 * - `GET|POST /fhir/$follow-up-indicators?practitioner=Practitioner/{id}[&organization=Organization/{id}][&protocol=]`
 *   — Parameters `managed`, `hba1c-tested-90d`, `hba1c-at-target`, `bp-controlled`,
 *   `managed-per-standard` (counts), and the rates of the last four over `managed`.
 */
import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';
import type { Clock } from '../../clock/clock.ts';
import { errors, operationInputs, singleInput } from '../../fhir/index.ts';
import type { ExtraOperation, FhirRequest, FhirResponse, RestContext } from '../../fhir/index.ts';
import { patientAdherence } from '../adherence/patient-adherence.ts';
import { BASE } from '../discharge/discharge-follow-up.ts';
import { populationIndicators } from '../population/indicators.ts';

const DAY = 86_400_000;
const DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const json = (body: Parameters): FhirResponse => ({ status: 200, body: JSON.stringify(body) });

function dateInput(found: Map<string, string[]>, name: string): string | undefined {
  const value = singleInput(found, name);
  if (value === undefined) return undefined;
  // A dateTime is taken as its calendar date; anything else is refused.
  const date = value.slice(0, 10);
  if (!DATE.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`)) || (value.length > 10 && Number.isNaN(Date.parse(value)))) {
    throw errors.invalidOperationParameter(`${name} must be a date (YYYY-MM-DD), got "${value}"`, [name]);
  }
  return date;
}

async function adherence(clock: Clock, ctx: RestContext, req: FhirRequest, id: string): Promise<FhirResponse> {
  const found = operationInputs(req);
  const end = dateInput(found, 'end') ?? clock.now().toISOString().slice(0, 10);
  const start = dateInput(found, 'start') ?? new Date(Date.parse(`${end}T00:00:00Z`) - 179 * DAY).toISOString().slice(0, 10);
  if (start > end) throw errors.invalidOperationParameter(`start (${start}) is after end (${end})`, ['start', 'end']);
  await ctx.store.read('Patient', id); // 404 / 410 for a patient that is not here
  const classes = await patientAdherence(ctx.store, `Patient/${id}`, { start, end });
  const parameter: ParametersParameter[] = [
    { name: 'start', valueDate: start },
    { name: 'end', valueDate: end },
    ...classes
      .sort((a, b) => (a.drugClass.code ?? '').localeCompare(b.drugClass.code ?? ''))
      .map((c) => ({
        name: 'drugClass',
        part: [
          { name: 'class', valueCoding: c.drugClass },
          { name: 'pdc', valueDecimal: Math.round(c.pdc * 10_000) / 10_000 },
          { name: 'adherent', valueBoolean: c.adherent },
          { name: 'coveredDays', valueInteger: c.coveredDays },
          { name: 'periodDays', valueInteger: c.periodDays },
          { name: 'firstFill', valueDate: c.firstFill },
          { name: 'source', valueCode: c.source },
        ],
      })),
  ];
  return json({ resourceType: 'Parameters', parameter });
}

function referenceInput(found: Map<string, string[]>, name: string, type: string): string | undefined {
  const value = singleInput(found, name);
  if (value === undefined) return undefined;
  if (!new RegExp(`^${type}/[A-Za-z0-9\\-.]{1,64}$`).test(value)) throw errors.invalidOperationParameter(`${name} must be ${type}/{id}, got "${value}"`, [name]);
  return value;
}

async function indicators(clock: Clock, ctx: RestContext, req: FhirRequest): Promise<FhirResponse> {
  const found = operationInputs(req);
  const practitioner = referenceInput(found, 'practitioner', 'Practitioner');
  const organization = referenceInput(found, 'organization', 'Organization');
  const protocol = singleInput(found, 'protocol');
  if (!practitioner && !organization) throw errors.invalidOperationParameter('name whose patients to count: practitioner=Practitioner/{id} (and optionally organization=Organization/{id})', ['practitioner']);
  if (protocol !== undefined && !/^[A-Za-z0-9\-.]{1,64}$/.test(protocol)) throw errors.invalidOperationParameter(`protocol must be a PlanDefinition id such as hypertension, got "${protocol}"`, ['protocol']);
  const result = await populationIndicators(ctx.store, { practitioner, organization, protocol }, clock.now());
  const rate = (n: number) => (result.managed ? Math.round((n / result.managed) * 1000) / 1000 : 0);
  const counts: Array<[string, number]> = [
    ['hba1c-tested-90d', result.hba1cTested90d],
    ['hba1c-at-target', result.hba1cAtTarget],
    ['bp-controlled', result.bpControlled],
    ['managed-per-standard', result.managedPerStandard],
  ];
  return json({
    resourceType: 'Parameters',
    parameter: [
      { name: 'managed', valueInteger: result.managed },
      ...counts.map(([name, n]) => ({ name, valueInteger: n })),
      ...counts.map(([name, n]) => ({ name: `${name}-rate`, valueDecimal: rate(n) })),
    ],
  });
}

export function followUpOperations(clock: Clock): ExtraOperation[] {
  return [
    {
      resourceType: 'Patient',
      name: 'adherence',
      definition: `${BASE}/OperationDefinition/Patient-adherence`,
      typeLevel: false,
      instanceLevel: true,
      methods: ['GET', 'POST'],
      run: (ctx, req, id) => adherence(clock, ctx, req, id as string),
    },
    {
      resourceType: 'system',
      name: 'follow-up-indicators',
      definition: `${BASE}/OperationDefinition/follow-up-indicators`,
      typeLevel: false,
      instanceLevel: false,
      methods: ['GET', 'POST'],
      run: (ctx, req) => indicators(clock, ctx, req),
    },
  ];
}
