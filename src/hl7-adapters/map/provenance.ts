/**
 * The Provenance of a message (IG MSH[Provenance-Source], EVN[Provenance] maps): every resource
 * the message writes is a target (not those it only refers to); the source entity is the message
 * in the log (its id, type, control id and sender); the sending facility is the author, EVN-5 the
 * enterer. Its id is derived from the log id, so reprocessing a message replaces its Provenance
 * instead of adding another.
 */
import type { Provenance, ProvenanceAgent } from '@medplum/fhirtypes';
import { SYSTEMS } from './code-systems.ts';
import type { MappingContext } from './context.ts';
import { fieldDateTime } from './datatypes.ts';
import { practitionerRef, senderOrganizationRef } from './segments/participants.ts';

export const MESSAGE_SYSTEM = 'https://fhir.carebridge.cn/NamingSystem/hl7-message';

export function provenanceId(messageLogId: string): string {
  return `hl7-message-${messageLogId}`;
}

/**
 * Adds the message's Provenance in two steps: now its agents (the sending organization and the
 * enterer, which the message may create: conditional writes like its others), and, with the
 * function returned, the Provenance itself once the message has its log id.
 */
export function addProvenance(ctx: MappingContext): () => void {
  const m = ctx.message;
  const evn = m.segment('EVN');
  const organization = senderOrganizationRef(ctx);
  const agents: ProvenanceAgent[] = [
    {
      type: { coding: [{ system: SYSTEMS.provenanceAgentType, code: 'author' }] },
      who: organization ?? { display: `${m.msh.field(3).value || 'unknown application'} / ${m.msh.field(4).value || 'unknown facility'}` },
    },
  ];
  const operator = evn && practitionerRef(ctx, evn.field(5).repetition(1));
  if (operator) agents.push({ type: { coding: [{ system: SYSTEMS.provenanceAgentType, code: 'enterer' }] }, who: operator });
  return () => addProvenanceResource(ctx, agents);
}

function addProvenanceResource(ctx: MappingContext, agents: ProvenanceAgent[]): void {
  const m = ctx.message;
  const evn = m.segment('EVN');
  // Targets are what the activity "generated or updated" (R4 Provenance.target): not the staff,
  // wards and organizations an earlier message created and this one only refers to. Patients
  // and visits the message restates are targets whether or not their content changed.
  const targets = ctx.bundle.writtenReferences((resourceType, query) => ctx.store.found(resourceType, query));
  const type = [m.messageType.code, m.messageType.triggerEvent].filter(Boolean).join('^');
  const provenance: Provenance & { id: string } = {
    resourceType: 'Provenance',
    id: provenanceId(ctx.messageLogId),
    target: targets,
    occurredDateTime: (evn && fieldDateTime(ctx, evn, 2)) ?? fieldDateTime(ctx, m.msh, 7),
    recorded: new Date().toISOString(),
    activity: { coding: [{ system: SYSTEMS.v2('0003'), code: m.messageType.triggerEvent || m.messageType.code }] },
    agent: agents,
    entity: [
      {
        role: 'source',
        what: {
          identifier: { system: MESSAGE_SYSTEM, value: ctx.messageLogId },
          display: `HL7 v2 ${type} ${m.controlId} from ${m.msh.field(3).value}/${m.msh.field(4).value}`,
        },
      },
    ],
  };
  if (!provenance.occurredDateTime) delete provenance.occurredDateTime;
  ctx.bundle.put(provenance);
}
