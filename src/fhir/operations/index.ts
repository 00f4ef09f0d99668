/**
 * FHIR operations other modules may call without HTTP. Today: ConceptMap/$translate, used by the
 * HL7 v2 mapping to translate hospitals' local codes (importing `./translate.ts` directly is
 * equivalent).
 */
export { translate, translateWithMaps } from './translate.ts';
export type { MapResolver, TranslateMatch, TranslateParams, TranslateResult } from './translate.ts';
