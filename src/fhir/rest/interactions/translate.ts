/**
 * ConceptMap/$translate — GET|POST [base]/ConceptMap/$translate and [base]/ConceptMap/[id]/$translate
 * (http://hl7.org/fhir/R4/conceptmap-operation-translate.html). Inputs from the URL (GET, or a
 * POST without a body), form parameters, or a Parameters body (http://hl7.org/fhir/R4/operations.html#request);
 * the answer is a Parameters resource.
 */
import type { Parameters } from '@medplum/fhirtypes';
import { errors } from '../../errors.ts';
import { translate } from '../../operations/translate.ts';
import { translateParamsFromParameters, translateParamsFromQuery, translateResultParameters } from '../../operations/translate-parameters.ts';
import type { TranslateParams } from '../../operations/translate.ts';
import { assertResource, validate } from '../../validation.ts';
import type { FhirRequest, FhirResponse, RestContext } from '../fhir-request.ts';

function inputs(req: FhirRequest): TranslateParams {
  const body = req.body;
  if (req.method !== 'POST' || body === undefined || body === null || body === '') return translateParamsFromQuery(req.query);
  if (body instanceof URLSearchParams) return translateParamsFromQuery(new URLSearchParams([...req.query, ...body]));
  assertResource(body);
  if (body.resourceType !== 'Parameters') throw errors.notAResource(`$translate takes a Parameters resource, not ${body.resourceType}`);
  validate(body); // a malformed Parameters is a 422 naming the element, not a crash further on
  return translateParamsFromParameters(body as Parameters);
}

export async function translateOperation(ctx: RestContext, req: FhirRequest, id?: string): Promise<FhirResponse> {
  const params = inputs(req);
  const result = await translate(ctx.store, id === undefined ? params : { ...params, conceptMapId: id });
  return { status: 200, body: JSON.stringify(translateResultParameters(result)) };
}
