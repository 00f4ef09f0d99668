/**
 * ConceptMap/$translate inputs and outputs as FHIR carries them
 * (http://hl7.org/fhir/R4/conceptmap-operation-translate.html, #parameters): URL query or form
 * parameters (primitive inputs only, http://hl7.org/fhir/R4/operations.html#request), a
 * Parameters resource in a POST body, and the Parameters answered.
 */
import type { Coding, Parameters, ParametersParameter } from '@medplum/fhirtypes';
import { errors } from '../errors.ts';
import type { TranslateParams, TranslateResult } from './translate-maps.ts';

type StringName = 'url' | 'conceptMapVersion' | 'system' | 'version' | 'code' | 'source' | 'target' | 'targetsystem';

/** Primitive inputs, and the value[x] types a Parameters part may carry them in (clients send uri or string alike). */
const STRING_INPUTS: Readonly<Record<StringName, ReadonlyArray<keyof ParametersParameter>>> = {
  url: ['valueUri', 'valueCanonical', 'valueUrl', 'valueString'],
  conceptMapVersion: ['valueString'],
  system: ['valueUri', 'valueCanonical', 'valueUrl', 'valueString'],
  version: ['valueString'],
  code: ['valueCode', 'valueString'],
  source: ['valueUri', 'valueCanonical', 'valueUrl', 'valueString'],
  target: ['valueUri', 'valueCanonical', 'valueUrl', 'valueString'],
  targetsystem: ['valueUri', 'valueCanonical', 'valueUrl', 'valueString'],
};
const isStringName = (name: string): name is StringName => Object.hasOwn(STRING_INPUTS, name);

/** Inputs of the spec this server does not take: refusing them beats answering as if they were not there. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  conceptMap: 'conceptMap (a ConceptMap in the request) is not supported; store the map and name it by url',
  dependency: 'dependency is not supported: this server does not evaluate dependsOn',
};

function parseReverse(raw: string): boolean {
  if (raw !== 'true' && raw !== 'false') throw errors.invalidOperationParameter(`reverse must be true or false, got "${raw}"`, ['reverse']);
  return raw === 'true';
}

function once(seen: Set<string>, name: string): void {
  if (seen.has(name)) throw errors.invalidOperationParameter(`${name} is given more than once`, [name]);
  seen.add(name);
}

/**
 * Inputs from URL query (GET) or form (POST application/x-www-form-urlencoded) parameters.
 * Names the operation does not define (`_format`, …) are ignored.
 */
export function translateParamsFromQuery(query: URLSearchParams): TranslateParams {
  const params: TranslateParams = {};
  const seen = new Set<string>();
  for (const [name, value] of query) {
    if (UNSUPPORTED[name]) throw errors.invalidOperationParameter(UNSUPPORTED[name], [name]);
    if (name === 'coding' || name === 'codeableConcept') {
      throw errors.invalidOperationParameter(`${name} is a complex type and cannot go in the URL; POST a Parameters resource, or use system and code`, [name]);
    }
    if (name === 'reverse') {
      once(seen, name);
      params.reverse = parseReverse(value);
    } else if (isStringName(name)) {
      once(seen, name);
      params[name] = value;
    }
  }
  return params;
}

function partValue(part: ParametersParameter, types: ReadonlyArray<keyof ParametersParameter>): unknown {
  for (const t of types) if (part[t] !== undefined) return part[t];
  throw errors.invalidOperationParameter(`${part.name} must have ${types.join(' or ')}`, [part.name]);
}

/** Inputs from a Parameters resource (POST application/fhir+json). */
export function translateParamsFromParameters(body: Parameters): TranslateParams {
  const params: TranslateParams = {};
  const seen = new Set<string>();
  for (const part of body.parameter ?? []) {
    const name = part.name;
    if (UNSUPPORTED[name]) throw errors.invalidOperationParameter(UNSUPPORTED[name], [name]);
    if (isStringName(name)) {
      once(seen, name);
      const value = partValue(part, STRING_INPUTS[name]);
      if (typeof value !== 'string') throw errors.invalidOperationParameter(`${name} must be a string`, [name]);
      params[name] = value;
    } else if (name === 'reverse') {
      once(seen, name);
      const value = partValue(part, ['valueBoolean']);
      if (typeof value !== 'boolean') throw errors.invalidOperationParameter('reverse must be a boolean', ['reverse']);
      params.reverse = value;
    } else if (name === 'coding') {
      once(seen, name);
      params.coding = objectValue(part, 'valueCoding') as Coding;
    } else if (name === 'codeableConcept') {
      once(seen, name);
      params.codeableConcept = objectValue(part, 'valueCodeableConcept');
    }
  }
  return params;
}

function objectValue<K extends 'valueCoding' | 'valueCodeableConcept'>(part: ParametersParameter, type: K): NonNullable<ParametersParameter[K]> {
  const value = partValue(part, [type]);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw errors.invalidOperationParameter(`${part.name} must be a ${type.slice(5)}`, [part.name]);
  return value as NonNullable<ParametersParameter[K]>;
}

/** The answer: `result`, `message`, and a `match` per match (equivalence, concept, source). */
export function translateResultParameters(result: TranslateResult): Parameters {
  const parameter: ParametersParameter[] = [{ name: 'result', valueBoolean: result.result }];
  if (result.message !== undefined) parameter.push({ name: 'message', valueString: result.message });
  for (const m of result.matches) {
    parameter.push({
      name: 'match',
      part: [
        { name: 'equivalence', valueCode: m.equivalence },
        ...(m.concept.code !== undefined || m.concept.system !== undefined ? [{ name: 'concept', valueCoding: m.concept }] : []),
        { name: 'source', valueUri: m.source },
      ],
    });
  }
  return { resourceType: 'Parameters', parameter };
}
