/**
 * $reindex — POST [base]/$reindex, POST [base]/[type]/$reindex (queue), GET [base]/$reindex/[job]
 * (progress). See src/fhir/operations/reindex.ts.
 */
import type { Parameters } from '@medplum/fhirtypes';
import { isResourceType } from '../../definitions.ts';
import { errors } from '../../errors.ts';
import { jobParameters } from '../../operations/reindex.ts';
import type { ReindexJob } from '../../operations/reindex.ts';
import type { FhirRequest, FhirResponse, RestContext } from '../fhir-request.ts';

export interface ReindexService {
  queue(resourceTypes: string[] | undefined): Promise<ReindexJob>;
  status(id: string): Promise<ReindexJob>;
}

/** Types from `?type=A,B` or a Parameters body with `type` parts. */
function requestedTypes(req: FhirRequest): string[] {
  const fromQuery = req.query.getAll('type').flatMap((t) => t.split(','));
  const body = req.body as Parameters | undefined;
  const fromBody = body?.resourceType === 'Parameters' ? (body.parameter ?? []).filter((p) => p.name === 'type').map((p) => p.valueCode ?? p.valueString ?? '') : [];
  const types = [...fromQuery, ...fromBody].map((t) => t.trim()).filter(Boolean);
  for (const t of types) if (!isResourceType(t)) throw errors.invalidSearch(`$reindex: unknown resource type "${t}"`, ['type']);
  return types;
}

export async function queueReindexOperation(ctx: RestContext, service: ReindexService, req: FhirRequest, type?: string): Promise<FhirResponse> {
  const job = await service.queue(type ? [type] : requestedTypes(req));
  return { status: 202, body: JSON.stringify(jobParameters(job)), location: `${ctx.baseUrl}/$reindex/${job.id}` };
}

export async function reindexStatusOperation(service: ReindexService, id: string): Promise<FhirResponse> {
  return { status: 200, body: JSON.stringify(jobParameters(await service.status(id))) };
}
