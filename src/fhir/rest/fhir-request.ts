/**
 * Transport-neutral request and response of the FHIR REST API. The HTTP server adapts real
 * requests to these, and batch/transaction Bundles run their entries through the very same
 * interactions, so an entry behaves exactly like the equivalent HTTP call.
 */
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { FhirStore, StoredVersion } from '../store/fhir-store.ts';

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface FhirRequest {
  method: HttpMethod;
  /** Path segments after the FHIR base, decoded: `['Patient', '123', '_history', '2']`. */
  segments: string[];
  query: URLSearchParams;
  ifMatch?: string | undefined;
  ifNoneExist?: string | undefined;
  /** Conditional read: the ETag the client holds. */
  ifNoneMatch?: string | undefined;
  /** Conditional read: the Last-Modified the client holds. */
  ifModifiedSince?: string | undefined;
  prefer?: string | undefined;
  contentType?: string | undefined;
  /** Parsed JSON body (or form parameters for `_search`). */
  body?: unknown;
}

export interface FhirResponse {
  status: number;
  /** JSON text of the body, or undefined for none. */
  body?: string | undefined;
  location?: string | undefined;
  version?: StoredVersion | undefined;
  /** For Bundle responses and Prefer: return=OperationOutcome. */
  outcome?: OperationOutcome | undefined;
}

export interface RestContext {
  store: FhirStore;
  /** Absolute FHIR base URL for links and Location headers. */
  baseUrl: string;
}

export type ReturnPreference = 'minimal' | 'representation' | 'OperationOutcome';

/** `Prefer: return=…` (default representation). */
export function returnPreference(prefer: string | undefined): ReturnPreference {
  const match = /(?:^|[;,\s])return=(minimal|representation|OperationOutcome)\b/.exec(prefer ?? '');
  return (match?.[1] as ReturnPreference | undefined) ?? 'representation';
}

/** `Prefer: handling=strict` makes unknown search parameters an error. */
export function strictHandling(prefer: string | undefined): boolean {
  return /(?:^|[;,\s])handling=strict\b/.test(prefer ?? '');
}
