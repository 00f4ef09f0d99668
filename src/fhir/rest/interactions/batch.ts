/**
 * batch — each entry runs on its own, exactly as the equivalent HTTP request would; a failing
 * entry gets its status and OperationOutcome in the response and the others proceed
 * (http://hl7.org/fhir/R4/http.html#brules).
 */
import type { Bundle } from '@medplum/fhirtypes';
import { errors, FhirError } from '../../errors.ts';
import { responseBundleJson } from '../bundle-json.ts';
import type { FhirRequest, FhirResponse } from '../fhir-request.ts';
import { route } from '../router.ts';
import type { RouterContext } from '../router.ts';
import { entryRequest, errorEntryJson, responseEntryJson } from './bundle-entry.ts';

export async function batch(ctx: RouterContext, req: FhirRequest, bundle: Bundle): Promise<FhirResponse> {
  const entries: string[] = [];
  for (const [index, entry] of (bundle.entry ?? []).entries()) {
    try {
      const request = entryRequest(ctx, entry ?? {}, index, req.prefer);
      if (request.segments.length === 0) throw errors.invalidBundle(`Bundle.entry[${index}]: a batch cannot contain another batch or transaction`);
      entries.push(responseEntryJson(ctx, await route(ctx, request).run()));
    } catch (err) {
      if (!(err instanceof FhirError)) throw err;
      entries.push(errorEntryJson(err));
    }
  }
  return { status: 200, body: responseBundleJson('batch-response', entries) };
}
