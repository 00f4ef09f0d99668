/** NK1 → RelatedPerson (IG NK1[RelatedPerson] map): name, relationship (Table 0063), address, telecom. */
import { derivedIdentifierValue } from '../bundle-builder.ts';
import type { Identifier, Patient, Reference, RelatedPerson } from '@medplum/fhirtypes';
import type { Hl7Segment } from '../../parse/segment.ts';
import type { MappingContext } from '../context.ts';
import { address, codeableConcept, compact, contactPoint, humanName, identifier } from '../datatypes.ts';

export function mapRelatedPerson(ctx: MappingContext, nk1: Hl7Segment, patient: Reference<Patient>, patientIdentity: Identifier): Reference<RelatedPerson> | undefined {
  const name = nk1.field(2).repetitions.map(humanName).filter((n) => n !== undefined);
  const relationship = codeableConcept(ctx, nk1.field(3).repetition(1), '0063');
  if (!name.length && !relationship) return undefined;
  const own = nk1.field(33).repetitions.map((r) => identifier(ctx, r)).filter((i): i is Identifier => !!i);
  // No NK1-33: the contact is identified by patient + relationship + name (stable across messages).
  const identity = own[0] ?? {
    system: 'https://fhir.carebridge.cn/NamingSystem/hl7-related-person',
    value: derivedIdentifierValue(patientIdentity.system, patientIdentity.value, relationship?.coding?.[0]?.code, name[0]?.text),
  };
  const person: RelatedPerson = compact({
    resourceType: 'RelatedPerson' as const,
    identifier: own.length ? own : [identity],
    active: true,
    patient,
    relationship: relationship ? [relationship] : undefined,
    name,
    telecom: [...nk1.field(5).repetitions, ...nk1.field(6).repetitions, ...nk1.field(40).repetitions].map(contactPoint).filter((c) => c !== undefined),
    address: nk1.field(4).repetitions.map(address).filter((a) => a !== undefined),
  });
  return ctx.bundle.upsert(person, identity);
}
