/**
 * batch/transaction — POST [base] with a Bundle (http://hl7.org/fhir/R4/http.html#transaction).
 */
import type { Bundle } from '@medplum/fhirtypes';
import { errors } from '../../errors.ts';
import type { FhirRequest, FhirResponse } from '../fhir-request.ts';
import type { RouterContext } from '../router.ts';
import { batch } from './batch.ts';
import { transaction } from './transaction.ts';

export async function bundle(ctx: RouterContext, req: FhirRequest): Promise<FhirResponse> {
  const body = req.body as Bundle | undefined;
  if (!body || typeof body !== 'object' || body.resourceType !== 'Bundle') {
    throw errors.notAResource('POST to the base URL takes a Bundle of type batch or transaction');
  }
  if (body.entry !== undefined && !Array.isArray(body.entry)) throw errors.invalidBundle('Bundle.entry must be an array', ['Bundle.entry']);
  if (body.type === 'batch') return batch(ctx, req, body);
  if (body.type === 'transaction') return transaction(ctx, req, body);
  throw errors.invalidBundle(`Bundle.type must be batch or transaction to be processed, got "${String(body.type)}" (store other Bundles with POST /Bundle)`, ['Bundle.type']);
}
