/**
 * OperationOutcome factories and the error type that carries one. Every failure the FHIR layer
 * reports is a FhirError; the HTTP edge derives the status from the first issue's code
 * (http://hl7.org/fhir/R4/operationoutcome.html, http://hl7.org/fhir/R4/http.html).
 *
 * Each of our own errors has a stable code (CB_ERR_…) in `issue.details.coding`, listed in
 * docs/errors.md; codes are never reused.
 */
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

export const ERROR_SYSTEM = 'https://carebridge.dev/fhir/CodeSystem/error';

export const ErrorCode = {
  INVALID_JSON: 'CB_ERR_INVALID_JSON',
  NOT_A_RESOURCE: 'CB_ERR_NOT_A_RESOURCE',
  UNKNOWN_RESOURCE_TYPE: 'CB_ERR_UNKNOWN_RESOURCE_TYPE',
  RESOURCE_TYPE_MISMATCH: 'CB_ERR_RESOURCE_TYPE_MISMATCH',
  ID_MISMATCH: 'CB_ERR_ID_MISMATCH',
  INVALID_ID: 'CB_ERR_INVALID_ID',
  INVALID_RESOURCE: 'CB_ERR_INVALID_RESOURCE',
  NOT_FOUND: 'CB_ERR_NOT_FOUND',
  DELETED: 'CB_ERR_DELETED',
  VERSION_CONFLICT: 'CB_ERR_VERSION_CONFLICT',
  INVALID_IF_MATCH: 'CB_ERR_INVALID_IF_MATCH',
  MULTIPLE_MATCHES: 'CB_ERR_MULTIPLE_MATCHES',
  INVALID_SEARCH: 'CB_ERR_INVALID_SEARCH',
  UNKNOWN_SEARCH_PARAMETER: 'CB_ERR_UNKNOWN_SEARCH_PARAMETER',
  UNSUPPORTED_MEDIA_TYPE: 'CB_ERR_UNSUPPORTED_MEDIA_TYPE',
  NOT_ACCEPTABLE: 'CB_ERR_NOT_ACCEPTABLE',
  INVALID_PATCH: 'CB_ERR_INVALID_PATCH',
  INVALID_BUNDLE: 'CB_ERR_INVALID_BUNDLE',
  UNRESOLVED_REFERENCE: 'CB_ERR_UNRESOLVED_REFERENCE',
  BODY_TOO_LARGE: 'CB_ERR_BODY_TOO_LARGE',
  UNSUPPORTED_OPERATION: 'CB_ERR_UNSUPPORTED_OPERATION',
  UNKNOWN_PATH: 'CB_ERR_UNKNOWN_PATH',
  METHOD_NOT_ALLOWED: 'CB_ERR_METHOD_NOT_ALLOWED',
  MALFORMED_REQUEST: 'CB_ERR_MALFORMED_REQUEST',
  INVALID_OPERATION_PARAMETER: 'CB_ERR_INVALID_OPERATION_PARAMETER',
  HL7_MESSAGE_NOT_FOUND: 'CB_ERR_HL7_MESSAGE_NOT_FOUND',
  HL7_INVALID_REQUEST: 'CB_ERR_HL7_INVALID_REQUEST',
  HL7_NOT_REPROCESSABLE: 'CB_ERR_HL7_NOT_REPROCESSABLE',
  TEST_CLOCK_DISABLED: 'CB_ERR_TEST_CLOCK_DISABLED',
  INVALID_CLOCK_REQUEST: 'CB_ERR_INVALID_CLOCK_REQUEST',
  INTERNAL: 'CB_ERR_INTERNAL',
  UNAVAILABLE: 'CB_ERR_UNAVAILABLE',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

type IssueCode = OperationOutcomeIssue['code'];

export class FhirError extends Error {
  readonly outcome: OperationOutcome;
  constructor(outcome: OperationOutcome) {
    super(outcome.issue?.[0]?.diagnostics ?? outcome.issue?.[0]?.details?.text ?? 'FHIR error');
    this.name = 'FhirError';
    this.outcome = outcome;
  }
  get issueCode(): IssueCode {
    return this.outcome.issue?.[0]?.code ?? 'exception';
  }
  get errorCode(): string | undefined {
    return this.outcome.issue?.[0]?.details?.coding?.[0]?.code;
  }
}

export function issue(code: IssueCode, errorCode: ErrorCode | undefined, text: string, expression?: string[], severity: OperationOutcomeIssue['severity'] = 'error'): OperationOutcomeIssue {
  return {
    severity,
    code,
    details: { ...(errorCode ? { coding: [{ system: ERROR_SYSTEM, code: errorCode }] } : {}), text },
    ...(expression?.length ? { expression } : {}),
  };
}

export function outcome(...issues: OperationOutcomeIssue[]): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: issues };
}

function error(code: IssueCode, errorCode: ErrorCode, text: string, expression?: string[]): FhirError {
  return new FhirError(outcome(issue(code, errorCode, text, expression)));
}

export const errors = {
  invalidJson: (detail: string) => error('invalid', ErrorCode.INVALID_JSON, `Request body is not valid JSON: ${detail}`),
  notAResource: (text = 'Request body must be a FHIR resource (a JSON object with resourceType)') => error('invalid', ErrorCode.NOT_A_RESOURCE, text),
  unknownType: (type: string) => error('not-supported', ErrorCode.UNKNOWN_RESOURCE_TYPE, `Unknown resource type "${type}"`),
  typeMismatch: (expected: string, got: unknown) =>
    error('invalid', ErrorCode.RESOURCE_TYPE_MISMATCH, `Resource type "${String(got)}" does not match the URL's "${expected}"`, ['resourceType']),
  idMismatch: (urlId: string, bodyId: unknown) =>
    error('invalid', ErrorCode.ID_MISMATCH, bodyId === undefined ? `Resource id is missing; it must equal the URL's "${urlId}"` : `Resource id "${String(bodyId)}" does not match the URL's "${urlId}"`, ['id']),
  invalidId: (id: string) => error('invalid', ErrorCode.INVALID_ID, `"${id}" is not a valid FHIR id ([A-Za-z0-9-.]{1,64})`),
  invalidResource: (issues: OperationOutcomeIssue[]) => new FhirError(outcome(...issues)),
  notFound: (type: string, id: string, version?: string) =>
    error('not-found', ErrorCode.NOT_FOUND, version ? `${type}/${id}/_history/${version} is not known` : `${type}/${id} is not known`),
  /** A canonical resource (ConceptMap, ValueSet…) named by its url, and version if given, that no current resource has. */
  notFoundByUrl: (type: string, url: string, version?: string) =>
    error('not-found', ErrorCode.NOT_FOUND, `No ${type} has url "${url}"${version === undefined ? '' : ` and version "${version}"`}`, ['url']),
  deleted: (type: string, id: string, versionId: number) => error('deleted', ErrorCode.DELETED, `${type}/${id} was deleted (version ${versionId})`),
  versionConflict: (type: string, id: string, expected: string, actual: number) =>
    error('conflict', ErrorCode.VERSION_CONFLICT, `${type}/${id} is at version ${actual}, not ${expected} (If-Match)`),
  invalidIfMatch: (value: string) => error('invalid', ErrorCode.INVALID_IF_MATCH, `If-Match must be a version ETag such as W/"3", got "${value}"`),
  multipleMatches: (what: string, count: number) =>
    error('multiple-matches', ErrorCode.MULTIPLE_MATCHES, `${what} matched ${count} resources; it must match at most one`),
  invalidSearch: (text: string, expression?: string[]) => error('invalid', ErrorCode.INVALID_SEARCH, text, expression),
  unknownSearchParameter: (name: string, why: string) =>
    error('invalid', ErrorCode.UNKNOWN_SEARCH_PARAMETER, `Search parameter "${name}" ${why} (Prefer: handling=strict)`, [name]),
  unsupportedMediaType: (contentType: string) =>
    error('not-supported', ErrorCode.UNSUPPORTED_MEDIA_TYPE, `Content-Type "${contentType}" is not supported; send application/fhir+json or application/json`),
  notAcceptable: (accept: string) =>
    error('not-supported', ErrorCode.NOT_ACCEPTABLE, `Cannot produce "${accept}"; this server speaks application/fhir+json (JSON only)`),
  invalidPatch: (text: string) => error('invalid', ErrorCode.INVALID_PATCH, text),
  invalidBundle: (text: string, expression?: string[]) => error('invalid', ErrorCode.INVALID_BUNDLE, text, expression),
  unresolvedReference: (reference: string, why: string) => error('not-found', ErrorCode.UNRESOLVED_REFERENCE, `Cannot resolve reference "${reference}": ${why}`),
  bodyTooLarge: (limit: number) => error('too-costly', ErrorCode.BODY_TOO_LARGE, `Request body exceeds the limit of ${limit} bytes`),
  unsupportedOperation: (text: string) => error('not-supported', ErrorCode.UNSUPPORTED_OPERATION, text),
  unknownPath: (path: string) => error('not-found', ErrorCode.UNKNOWN_PATH, `Nothing is served at ${path}`),
  methodNotAllowed: (method: string, path: string) => error('not-supported', ErrorCode.METHOD_NOT_ALLOWED, `${method} is not allowed on ${path}`),
  malformedRequest: (text: string) => error('invalid', ErrorCode.MALFORMED_REQUEST, text),
  /** An operation's input parameter is missing, repeated, of the wrong type, not supported, or conflicts with another; `expression` names it. */
  invalidOperationParameter: (text: string, expression: string[]) => error('invalid', ErrorCode.INVALID_OPERATION_PARAMETER, text, expression),
  /** HL7 message log API (/admin/hl7): no logged message with that id. */
  hl7MessageNotFound: (id: string) => error('not-found', ErrorCode.HL7_MESSAGE_NOT_FOUND, `No HL7 message with id "${id}" is in the message log`),
  /** HL7 admin API: a bad query parameter or an invalid sender configuration; `expression` names it. */
  hl7InvalidRequest: (text: string, expression?: string[]) => error('invalid', ErrorCode.HL7_INVALID_REQUEST, text, expression),
  /** HL7 admin API: a rejected (unparseable/unsupported) message cannot be reprocessed; it must be re-sent. */
  hl7NotReprocessable: (text: string) => error('conflict', ErrorCode.HL7_NOT_REPROCESSABLE, text),
  /** POST /admin/clock on a server started without CAREBRIDGE_TEST_CLOCK=1. */
  testClockDisabled: () => error('forbidden', ErrorCode.TEST_CLOCK_DISABLED, 'The clock can only be moved on a server started with CAREBRIDGE_TEST_CLOCK=1 (tests and demos)'),
  /** POST /admin/clock with a body that is not {"now": instant} or {"advanceBy": duration}. */
  invalidClockRequest: (text: string, expression?: string[]) => error('invalid', ErrorCode.INVALID_CLOCK_REQUEST, text, expression),
  internal: () => error('exception', ErrorCode.INTERNAL, 'Internal server error; it has been logged'),
  unavailable: (text: string) => error('transient', ErrorCode.UNAVAILABLE, text),
};

/**
 * HTTP status from an issue code. Validation problems (structure, required, value, invariant)
 * are 422 per the FHIR REST spec; unparseable input is 400.
 */
export function httpStatusFor(err: FhirError): number {
  switch (err.issueCode) {
    case 'not-found':
      return err.errorCode === ErrorCode.UNRESOLVED_REFERENCE ? 400 : 404;
    case 'deleted':
      return 410;
    case 'conflict':
      return err.errorCode === ErrorCode.VERSION_CONFLICT ? 412 : 409;
    case 'multiple-matches':
      return 412;
    case 'not-supported':
      if (err.errorCode === ErrorCode.UNSUPPORTED_MEDIA_TYPE) return 415;
      if (err.errorCode === ErrorCode.NOT_ACCEPTABLE) return 406;
      if (err.errorCode === ErrorCode.METHOD_NOT_ALLOWED) return 405;
      return err.errorCode === ErrorCode.UNKNOWN_RESOURCE_TYPE ? 404 : 400;
    case 'too-costly':
      return 413;
    case 'structure':
    case 'required':
    case 'value':
    case 'invariant':
    case 'business-rule':
    case 'processing':
      return 422;
    case 'security':
    case 'login':
      return 401;
    case 'forbidden':
      return 403;
    case 'transient':
    case 'timeout':
      return 503;
    case 'exception':
      return 500;
    default:
      return 400;
  }
}
