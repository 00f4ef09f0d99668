/**
 * RDE^O11, RDE^O25 (pharmacy/treatment encoded order, refill authorisation) and OMP^O09
 * (pharmacy/treatment order) → one MedicationRequest per order group. Segments are read in order:
 * ORC starts a group; RXE/RXO, TQ1, RXR and NTE after it belong to it.
 */
import type { Encounter, Reference } from '@medplum/fhirtypes';
import type { Hl7Segment } from '../../parse/segment.ts';
import type { MappingContext } from '../context.ts';
import { MappingError } from '../context.ts';
import type { OrderGroup } from '../segments/pharmacy-order.ts';
import { mapMedicationRequest } from '../segments/pharmacy-order.ts';
import type { MappedPatient } from '../segments/pid.ts';
import { mapPatient } from '../segments/pid.ts';
import { mapEncounter } from '../segments/pv1.ts';

export async function mapPharmacyOrder(ctx: MappingContext): Promise<void> {
  const giveSegment = ctx.message.messageType.code === 'OMP' ? 'RXO' : 'RXE';
  let patient: MappedPatient | undefined;
  let encounter: Reference<Encounter> | undefined;
  const groups: Array<{ orc: Hl7Segment | undefined; give?: Hl7Segment; tq1: Hl7Segment[]; rxr: Hl7Segment[]; notes: string[] }> = [];
  let current: (typeof groups)[number] | undefined;
  for (const s of ctx.message.segments()) {
    switch (s.name) {
      case 'PID':
        patient = await mapPatient(ctx, s, 'ensure');
        break;
      case 'PV1':
        if (patient) encounter = mapEncounter(ctx, s, patient.reference, 'O11', 'ensure')?.reference;
        break;
      case 'ORC':
        current = { orc: s, tq1: [], rxr: [], notes: [] };
        groups.push(current);
        break;
      case giveSegment:
        if (!current || current.give) {
          current = { orc: undefined, tq1: [], rxr: [], notes: [] };
          groups.push(current);
        }
        current.give = s;
        break;
      case 'TQ1':
        current?.tq1.push(s);
        break;
      case 'RXR':
        current?.rxr.push(s);
        break;
      case 'NTE':
        if (current?.give) current.notes.push(s.field(3).repetitions.map((r) => r.value).join('\n'));
        break;
      default:
        break;
    }
  }
  if (!patient) throw new MappingError('the message has no PID segment', '100', { segment: 'PID' });
  const complete = groups.filter((g): g is OrderGroup & typeof g => g.give !== undefined);
  if (!complete.length) throw new MappingError(`the message has no ${giveSegment} segment`, '100', { segment: giveSegment });
  for (const group of complete) mapMedicationRequest(ctx, group, patient.reference, encounter);
}
