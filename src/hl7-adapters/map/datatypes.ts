/**
 * HL7 v2 data types → FHIR data types, after the v2-to-FHIR IG's data type maps
 * (reference/v2-to-fhir: CWE→CodeableConcept, CX→Identifier, XPN→HumanName, XAD→Address,
 * XTN→ContactPoint, XCN→Practitioner). Component numbers follow v2.5.1 chapter 2A.
 */
import type { Address, CodeableConcept, Coding, ContactPoint, HumanName, Identifier } from '@medplum/fhirtypes';
import type { Hl7Repetition } from '../parse/field.ts';
import { SYSTEMS } from './code-systems.ts';
import type { Hl7Segment } from '../parse/segment.ts';
import type { MappingContext } from './context.ts';
import { MappingError } from './context.ts';
import { Hl7DateError, toFhirDate, toFhirDateTime } from './datetime.ts';

const CJK = /[\u3400-\u9fff\uf900-\ufaff]/;

/** Drops undefined, '' and empty arrays/objects so resources carry no empty elements (FHIR rule ele-1). */
export function compact<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined || v === '' || (Array.isArray(v) && v.length === 0)) continue;
    if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0) continue;
    out[k] = v;
  }
  return out as T;
}

/** CWE/CE/CNE → CodeableConcept: primary and alternate codings, text from component 2 or 9. */
export function codeableConcept(ctx: MappingContext, rep: Hl7Repetition, defaultTable?: string): CodeableConcept | undefined {
  if (rep.isEmpty) return undefined;
  const coding: Coding[] = [];
  const add = (code: string, display: string, system: string, version?: string) => {
    if (code) coding.push(compact({ system: ctx.systems.uri(system, defaultTable), version, code, display: display || undefined }));
  };
  add(rep.component(1), rep.component(2), rep.component(3), rep.component(7) || undefined);
  add(rep.component(4), rep.component(5), rep.component(6), rep.component(8) || undefined);
  const text = rep.component(9) || rep.component(2) || (coding.length ? undefined : rep.component(1));
  if (!coding.length && !text) return undefined;
  return compact({ coding, text });
}

/** The first coding of a CWE as a Coding (for elements typed Coding, e.g. Encounter.class). */
export function coding(ctx: MappingContext, rep: Hl7Repetition, defaultTable?: string): Coding | undefined {
  return codeableConcept(ctx, rep, defaultTable)?.coding?.[0];
}

/**
 * CX/EI/HD assigning authority → identifier system: a universal id with type ISO is an OID
 * (`urn:oid:…`), URI/UUID types are used as they are; otherwise the sender's configured system
 * for the namespace id or for the identifier type, then a per-facility local system.
 */
export function identifierSystem(ctx: MappingContext, namespace: string, universalId: string, universalIdType: string, typeCode: string): string {
  const type = universalIdType.toUpperCase();
  if (universalId && type === 'ISO') return universalId.startsWith('urn:oid:') ? universalId : `urn:oid:${universalId}`;
  if (universalId && (type === 'URI' || type === 'URL')) return universalId;
  if (universalId && type === 'UUID') return `urn:uuid:${universalId}`;
  const configured = (namespace && ctx.sender.identifierSystems[namespace]) || (typeCode && ctx.sender.identifierSystems[`type:${typeCode}`]);
  if (configured) return configured;
  if (typeCode.toUpperCase() === 'NNCHN') return 'urn:oid:2.16.156.10011.1.3';
  const facility = ctx.sender.facility || 'unknown';
  // Numbers the sending facility issues itself are told apart by their type (VN, MR, …).
  const kind = namespace && namespace !== facility ? namespace : typeCode || namespace || 'id';
  return `https://fhir.carebridge.cn/NamingSystem/local/${encodeURIComponent(facility)}/${encodeURIComponent(kind)}`;
}

/** CX → Identifier (IG CX map): value, system from CX-4, type from CX-5 (Table 0203), period CX-7/8. */
export function identifier(ctx: MappingContext, rep: Hl7Repetition): Identifier | undefined {
  const value = rep.component(1).trim();
  if (!value) return undefined;
  const typeCode = rep.component(5);
  const system = identifierSystem(ctx, rep.subcomponent(4, 1), rep.subcomponent(4, 2), rep.subcomponent(4, 3), typeCode);
  const start = safeDate(rep.component(7));
  const end = safeDate(rep.component(8));
  return compact({
    system,
    value,
    type: typeCode ? { coding: [{ system: SYSTEMS.v2('0203'), code: typeCode }] } : undefined,
    period: start || end ? compact({ start, end }) : undefined,
  });
}

/** EI (entity identifier: placer/filler numbers) → Identifier. */
export function entityIdentifier(ctx: MappingContext, rep: Hl7Repetition, typeCode?: string): Identifier | undefined {
  const value = rep.component(1).trim();
  if (!value) return undefined;
  return compact({
    // Without a namespace, placer and filler numbers get systems of their own (…/PLAC, …/FILL), so
    // the same number issued by both sides does not name one order.
    system: identifierSystem(ctx, rep.component(2), rep.component(3), rep.component(4), typeCode ?? ''),
    value,
    type: typeCode ? { coding: [{ system: SYSTEMS.v2('0203'), code: typeCode }] } : undefined,
  });
}

function safeDate(text: string): string | undefined {
  try {
    return toFhirDate(text);
  } catch {
    return undefined;
  }
}

/** Table 0200 name type → HumanName.use (IG NameType map; A alias/pinyin → usual). */
const NAME_USE: Readonly<Record<string, HumanName['use']>> = {
  L: 'official', R: 'official', D: 'usual', A: 'usual', M: 'maiden', N: 'nickname', MSK: 'anonymous', NAV: 'temp', TEMP: 'temp', BAD: 'old', NOUSE: 'old',
};

/** Joins name parts: no space between Chinese parts (张 + 三 = 张三), a space otherwise. */
export function joinName(family: string | undefined, given: string[]): string | undefined {
  const parts = [family, ...given].filter((p): p is string => !!p);
  if (!parts.length) return undefined;
  if (parts.every((p) => CJK.test(p))) return parts.join('');
  // Western order for Latin names (given first), as the IG's text rendering does.
  return [...given, family].filter(Boolean).join(' ');
}

/**
 * XPN → HumanName. Chinese HIS systems usually send the whole name in XPN-1 (张三^^^^^^L): it is
 * kept as the family element as sent and as text, so a name search for 张 or 张三 finds it.
 */
export function humanName(rep: Hl7Repetition): HumanName | undefined {
  const family = rep.component(1).trim() || undefined;
  const given = [rep.component(2), rep.component(3)].map((s) => s.trim()).filter(Boolean);
  if (!family && !given.length) return undefined;
  const typeCode = rep.component(7).toUpperCase();
  return compact({
    use: NAME_USE[typeCode],
    text: joinName(family, given),
    family,
    given,
    prefix: rep.component(5) ? [rep.component(5)] : undefined,
    suffix: rep.component(4) ? [rep.component(4)] : undefined,
  });
}

/** Table 0190 address type → Address.use / type. */
const ADDRESS_USE: Readonly<Record<string, Address['use']>> = { H: 'home', B: 'work', O: 'work', C: 'temp', BA: 'old', BDL: 'old', BR: 'billing' };

/** XAD → Address: street lines (1, 2), city 3, state 4, postal code 5, country 6, type 7. */
export function address(rep: Hl7Repetition): Address | undefined {
  const line = [rep.component(1), rep.component(2)].map((s) => s.trim()).filter(Boolean);
  const a: Address = compact({
    use: ADDRESS_USE[rep.component(7).toUpperCase()],
    type: rep.component(7).toUpperCase() === 'M' ? ('postal' as const) : undefined,
    line,
    city: rep.component(3) || undefined,
    district: rep.component(9) || undefined,
    state: rep.component(4) || undefined,
    postalCode: rep.component(5) || undefined,
    country: rep.component(6) || undefined,
  });
  if (!a.line && !a.city && !a.state && !a.postalCode && !a.country) return undefined;
  // A readable one-line form: Chinese addresses run from the largest unit to the smallest.
  const chinese = [a.state, a.city, ...(a.line ?? [])].some((p) => p && CJK.test(p));
  a.text = chinese
    ? [a.state, a.city && a.city !== a.state ? a.city : undefined, a.district, ...(a.line ?? [])].filter(Boolean).join('')
    : [...(a.line ?? []), a.city, a.state, a.postalCode, a.country].filter(Boolean).join(', ');
  return a;
}

/** Table 0201 telecom use → ContactPoint.use. */
const TELECOM_USE: Readonly<Record<string, ContactPoint['use']>> = { PRN: 'home', ORN: 'home', VHN: 'home', WPN: 'work', PRS: 'mobile', EMR: 'temp', BPN: 'work' };
/** Table 0202 telecom equipment → ContactPoint.system. */
const TELECOM_SYSTEM: Readonly<Record<string, ContactPoint['system']>> = { PH: 'phone', CP: 'phone', FX: 'fax', BP: 'pager', INTERNET: 'email', X400: 'email', MD: 'other', TDD: 'other', TTY: 'other', SAT: 'phone' };

/** XTN → ContactPoint: number from 5 (country), 6 (area), 7 (local), 8 (extension), or 1; email 4. */
export function contactPoint(rep: Hl7Repetition): ContactPoint | undefined {
  const useCode = rep.component(2).toUpperCase();
  const equipment = rep.component(3).toUpperCase();
  const email = rep.component(4).trim();
  let value: string | undefined;
  if (email) value = email;
  else if (rep.component(7)) {
    const country = rep.component(5).replace(/^\+/, '');
    value = `${country ? `+${country} ` : ''}${rep.component(6)}${rep.component(7)}${rep.component(8) ? ` ext. ${rep.component(8)}` : ''}`;
  } else value = rep.component(1).trim() || undefined;
  if (!value) return undefined;
  return compact({
    system: email ? 'email' : (TELECOM_SYSTEM[equipment] ?? 'phone'),
    value,
    use: equipment === 'CP' ? 'mobile' : TELECOM_USE[useCode],
  });
}

/** Staff ids without an authority, or issued by the sending facility itself, share one system. */
function practitionerNamespace(ctx: MappingContext, authority: string): string {
  return authority && authority !== ctx.sender.facility ? authority : 'practitioner';
}

/** XCN id number and name: the practitioner's identifier (XCN-1 with XCN-9 authority) and HumanName. */
export function xcnIdentity(ctx: MappingContext, rep: Hl7Repetition): { identifier?: Identifier; name?: HumanName } {
  const id = rep.component(1).trim();
  const family = rep.component(2).trim() || undefined;
  const given = [rep.component(3), rep.component(4)].map((s) => s.trim()).filter(Boolean);
  const name = family || given.length ? compact({ text: joinName(family, given), family, given, prefix: rep.component(6) ? [rep.component(6)] : undefined }) : undefined;
  const identifier = id
    ? compact({ system: identifierSystem(ctx, practitionerNamespace(ctx, rep.subcomponent(9, 1)), rep.subcomponent(9, 2), rep.subcomponent(9, 3), rep.component(13)), value: id })
    : undefined;
  return { identifier, name };
}

function located<T>(segment: Hl7Segment, field: number, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof Hl7DateError)) throw err;
    throw new MappingError(`${segment.name}-${field}: ${err.message}`, '102', { segment: segment.name, segmentIndex: segment.index, field });
  }
}

/** A TS/DTM field as a FHIR dateTime in the sender's time zone; a malformed value is a MappingError (AE 102). */
export function fieldDateTime(ctx: MappingContext, segment: Hl7Segment, field: number): string | undefined {
  return located(segment, field, () => toFhirDateTime(segment.field(field).value, ctx.sender.timeZone));
}

/** A DT (or the date part of a TS) field as a FHIR date. */
export function fieldDate(segment: Hl7Segment, field: number): string | undefined {
  return located(segment, field, () => toFhirDate(segment.field(field).value.slice(0, 8)));
}
