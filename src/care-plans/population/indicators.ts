/**
 * The population view for doctors (issue 6): of the patients managed under a protocol (an active
 * CarePlan instantiating it), how many had an HbA1c in the last 3 months and how many are at
 * target (< 7.0 %), and the programme indicators of the national standard: managed per standard
 * (≥ 4 follow-up records in the last 12 months) and control rate (the latest follow-up classified
 * "controlled"). `GET /api/follow-up/indicators?protocol=hypertension|type-2-diabetes|…`
 * (optionally `&organization=Organization/{id}`: patients whose plan's tasks that organisation owns).
 */
import type { CarePlan, Observation, QuestionnaireResponse } from '@medplum/fhirtypes';
import type { FastifyInstance } from 'fastify';
import { errors, findMatches, searchAll } from '../../fhir/index.ts';
import type { FhirStore } from '../../fhir/index.ts';
import { BASE } from '../discharge/discharge-follow-up.ts';
import { FOLLOW_UP_QUESTIONNAIRE } from '../follow-up/record.ts';

export interface Indicators {
  protocol: string;
  patients: number;
  hba1c: { measuredLast3Months: number; atTarget: number; target: string };
  managedPerStandard: { patients: number; rate: number | null; rule: string };
  controlled: { patients: number; rate: number | null; rule: string };
}

const DAY = 86_400_000;
const parse = <T>(content: string | null): T => JSON.parse(content as string) as T;

export async function populationIndicators(store: FhirStore, protocolId: string, now: Date, organization?: string): Promise<Indicators> {
  const canonicalPrefix = `${BASE}/PlanDefinition/${protocolId}|`;
  let plans = (await searchAll(store, 'CarePlan', new URLSearchParams({ status: 'active' }))).map((v) => parse<CarePlan & { id: string }>(v.content)).filter((p) => p.instantiatesCanonical?.some((c) => c.startsWith(canonicalPrefix)));
  if (organization) {
    const owned = new Set<string>();
    for (const plan of plans) {
      const tasks = await findMatches(store, 'Task', new URLSearchParams([['based-on', `CarePlan/${plan.id}`], ['owner', organization]]), 1);
      if (tasks.length) owned.add(plan.id);
    }
    plans = plans.filter((p) => owned.has(p.id));
  }
  const patients = [...new Set(plans.map((p) => p.subject?.reference).filter((r): r is string => !!r))];
  const threeMonths = new Date(now.getTime() - 92 * DAY).toISOString();
  const year = new Date(now.getTime() - 365 * DAY).toISOString();
  let measured = 0;
  let atTarget = 0;
  let managed = 0;
  let controlled = 0;
  for (const patient of patients) {
    const [hba1c] = await findMatches(store, 'Observation', new URLSearchParams([['subject', patient], ['code', 'http://loinc.org|4548-4'], ['date', `ge${threeMonths}`], ['_sort', '-date']]), 1);
    if (hba1c) {
      measured++;
      const value = parse<Observation>(hba1c.content).valueQuantity?.value;
      if (value !== undefined && value < 7.0) atTarget++;
    }
    const records = (await findMatches(store, 'QuestionnaireResponse', new URLSearchParams([['subject', patient], ['questionnaire', FOLLOW_UP_QUESTIONNAIRE], ['status', 'completed'], ['authored', `ge${year}`], ['_sort', '-authored']]), 100)).map((v) => parse<QuestionnaireResponse>(v.content));
    if (records.length >= 4) managed++;
    const latest = records[0]?.item?.find((i) => i.linkId === 'classification')?.answer?.[0]?.valueCoding?.code;
    if (latest === 'controlled') controlled++;
  }
  const rate = (n: number) => (patients.length ? Math.round((n / patients.length) * 1000) / 1000 : null);
  return {
    protocol: protocolId,
    patients: patients.length,
    hba1c: { measuredLast3Months: measured, atTarget, target: 'HbA1c (LOINC 4548-4) < 7.0 %' },
    managedPerStandard: { patients: managed, rate: rate(managed), rule: '≥ 4 follow-up records in the last 12 months' },
    controlled: { patients: controlled, rate: rate(controlled), rule: 'latest follow-up classified controlled' },
  };
}

export function registerIndicatorRoutes(app: FastifyInstance, store: FhirStore): void {
  app.get<{ Querystring: { protocol?: string; organization?: string } }>('/api/follow-up/indicators', async (req) => {
    const protocol = req.query.protocol ?? '';
    if (!/^[A-Za-z0-9-]{1,64}$/.test(protocol)) throw errors.invalidSearch('protocol must be a PlanDefinition id such as hypertension or type-2-diabetes', ['protocol']);
    const organization = req.query.organization;
    if (organization !== undefined && !/^Organization\/[A-Za-z0-9\-.]{1,64}$/.test(organization)) throw errors.invalidSearch('organization must be Organization/{id}', ['organization']);
    return populationIndicators(store, protocol, new Date(), organization);
  });
}
