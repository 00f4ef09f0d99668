/** Reading Bundle.entry.request into a FhirRequest (http://hl7.org/fhir/R4/bundle.html#transaction). */
import type { BundleEntry, BundleEntryResponse, OperationOutcome } from '@medplum/fhirtypes';
import { errors, FhirError, httpStatusFor } from '../../errors.ts';
import type { FhirRequest, FhirResponse, HttpMethod, RestContext } from '../fhir-request.ts';
import { etag } from '../responses.ts';

const METHODS: readonly HttpMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** Turns entry.request into a FhirRequest; `url` is relative to the base, or absolute under it. */
export function entryRequest(ctx: RestContext, entry: BundleEntry, index: number, prefer: string | undefined): FhirRequest {
  const where = `Bundle.entry[${index}]`;
  const request = entry.request;
  if (!request || typeof request !== 'object') throw errors.invalidBundle(`${where}.request is required`, [`${where}.request`]);
  const method = String(request.method ?? '').toUpperCase() as HttpMethod;
  if (!METHODS.includes(method)) throw errors.invalidBundle(`${where}.request.method must be one of ${METHODS.join(', ')}`, [`${where}.request.method`]);
  if (typeof request.url !== 'string' || request.url.trim() === '') throw errors.invalidBundle(`${where}.request.url is required`, [`${where}.request.url`]);
  let url = request.url.trim();
  if (url.startsWith(`${ctx.baseUrl}/`)) url = url.slice(ctx.baseUrl.length + 1);
  else if (/^[a-z][a-z0-9+.-]*:/i.test(url)) throw errors.invalidBundle(`${where}.request.url "${url}" is not on this server (${ctx.baseUrl})`, [`${where}.request.url`]);
  url = url.replace(/^\/+/, '');
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  let segments: string[];
  try {
    segments = path === '' ? [] : path.split('/').map(decodeURIComponent);
  } catch {
    throw errors.invalidBundle(`${where}.request.url "${url}" is not a valid URL`, [`${where}.request.url`]);
  }
  return {
    method,
    segments,
    query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)),
    ifMatch: request.ifMatch,
    ifNoneExist: request.ifNoneExist,
    prefer,
    contentType: entry.resource?.resourceType === 'Binary' ? undefined : 'application/fhir+json',
    body: entry.resource,
  };
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 201: 'Created', 204: 'No Content', 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict',
  410: 'Gone', 412: 'Precondition Failed', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Entity', 500: 'Internal Server Error',
};

export const statusLine = (status: number) => `${status} ${STATUS_TEXT[status] ?? ''}`.trim();

/** A response entry (as JSON text) for a successful interaction. */
export function responseEntryJson(ctx: RestContext, res: FhirResponse): string {
  const response: BundleEntryResponse = { status: statusLine(res.status) };
  const v = res.version;
  if (v) {
    if (res.status === 201) response.location = `${v.resourceType}/${v.id}/_history/${v.versionId}`;
    response.etag = etag(v);
    response.lastModified = v.lastUpdated;
  }
  if (res.outcome && !res.body?.startsWith('{"resourceType":"OperationOutcome"')) response.outcome = res.outcome;
  const fullUrl = v && !v.deleted ? `"fullUrl":${JSON.stringify(`${ctx.baseUrl}/${v.resourceType}/${v.id}`)},` : '';
  const resource = res.body ? `"resource":${res.body},` : '';
  return `{${fullUrl}${resource}"response":${JSON.stringify(response)}}`;
}

/** A response entry for a failed batch entry: its status and OperationOutcome. */
export function errorEntryJson(err: FhirError): string {
  const outcome: OperationOutcome = err.outcome;
  return JSON.stringify({ response: { status: statusLine(httpStatusFor(err)), outcome } });
}

export { FhirError };
