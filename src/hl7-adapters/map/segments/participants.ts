/**
 * Practitioners, organisations and locations named in a message (XCN, HD, PL). Each becomes a
 * resource keyed on its identifier, created the first time a message names it and then only
 * referenced (conditional create): ADT and result feeds name staff and wards in passing, they are
 * not the master source for them, and rewriting one shared Practitioner in every message would
 * serialise all messages on its row.
 */
import type { Location, Organization, Practitioner, Reference } from '@medplum/fhirtypes';
import type { Hl7Repetition } from '../../parse/field.ts';
import type { Hl7Segment } from '../../parse/segment.ts';
import type { MappingContext } from '../context.ts';
import { compact, xcnIdentity } from '../datatypes.ts';

/** XCN → Reference to a Practitioner (conditional update on its id), or a display-only reference. */
export function practitionerRef(ctx: MappingContext, rep: Hl7Repetition): Reference<Practitioner> | undefined {
  if (rep.isEmpty) return undefined;
  const { identifier, name } = xcnIdentity(ctx, rep);
  if (!identifier) return name?.text ? { display: name.text } : undefined;
  const practitioner: Practitioner = compact({ resourceType: 'Practitioner' as const, identifier: [identifier], name: name ? [name] : undefined });
  return { ...ctx.bundle.ensure(practitioner, identifier), display: name?.text };
}

export const FACILITY_SYSTEM = 'https://fhir.carebridge.cn/NamingSystem/hl7-facility';

/**
 * HD → Organization. Chinese senders often put the hospital's name in HD-2 (XYZRMYY^某市人民医院);
 * a real universal id (HD-3 = ISO/DNS/…) is kept as a second identifier instead.
 */
export function organizationRef(ctx: MappingContext, hd: Hl7Repetition): Reference<Organization> | undefined {
  const namespace = hd.component(1).trim();
  const universal = hd.component(2).trim();
  const universalType = hd.component(3).trim().toUpperCase();
  if (!namespace && !universal) return undefined;
  const key = { system: FACILITY_SYSTEM, value: namespace || universal };
  const identifiers = [key];
  if (universal && universalType === 'ISO') identifiers.push({ system: 'urn:ietf:rfc:3986', value: `urn:oid:${universal}` });
  const name = universal && !universalType ? universal : namespace;
  const organization: Organization = { resourceType: 'Organization', identifier: identifiers, name, active: true };
  return { ...ctx.bundle.ensure(organization, key), display: name };
}

/** The sending facility (MSH-4) as an Organization. */
export function senderOrganizationRef(ctx: MappingContext): Reference<Organization> | undefined {
  return organizationRef(ctx, ctx.message.msh.field(4).repetition(1));
}

/**
 * PL (PV1-3 assigned location) → Location for the bed (or room, or point of care), with the ward
 * as its description. Keyed on facility + point of care + room + bed.
 */
export function locationRef(ctx: MappingContext, pl: Hl7Repetition): Reference<Location> | undefined {
  const pointOfCare = pl.component(1).trim();
  const room = pl.component(2).trim();
  const bed = pl.component(3).trim();
  if (!pointOfCare && !room && !bed) return undefined;
  const facility = pl.component(4).trim() || ctx.sender.facility;
  const description = pl.component(9).trim();
  const value = [facility, pointOfCare, room, bed].join('^');
  const identifier = { system: 'https://fhir.carebridge.cn/NamingSystem/hl7-location', value };
  const name = [description || pointOfCare, room && `${room}`, bed && `${bed}`].filter(Boolean).join(' ');
  const kind = bed ? 'bd' : room ? 'ro' : 'wa';
  const location: Location = compact({
    resourceType: 'Location' as const,
    identifier: [identifier],
    status: 'active' as const,
    name,
    description: description || undefined,
    mode: 'instance' as const,
    physicalType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/location-physical-type', code: kind }] },
  });
  return { ...ctx.bundle.ensure(location, identifier), display: name };
}

/** All XCN repetitions of a field as practitioner references. */
export function practitionerRefs(ctx: MappingContext, segment: Hl7Segment, field: number): Reference<Practitioner>[] {
  return segment.field(field).repetitions.map((r) => practitionerRef(ctx, r)).filter((r): r is Reference<Practitioner> => !!r);
}
