/**
 * ORU^R01 → DiagnosticReport per OBR with its Observations (IG ORU_R01 message map, OBR and OBX
 * segment maps). Segments are read in order: each PID starts a patient, each OBR a report; OBX
 * belong to the report before them (or, before any OBR, to the patient: v2.7+ patient
 * observations) and NTE to the segment before them.
 */
import type { DiagnosticReport, Encounter, Identifier, Observation, Reference } from '@medplum/fhirtypes';
import type { Hl7Segment } from '../../parse/segment.ts';
import { derivedIdentifierValue } from '../bundle-builder.ts';
import { SYSTEMS } from '../code-systems.ts';
import type { MappingContext } from '../context.ts';
import { MappingError } from '../context.ts';
import { codeableConcept, compact, entityIdentifier, fieldDateTime } from '../datatypes.ts';
import { toFhirInstant } from '../datetime.ts';
import { mapObservation } from '../segments/obx.ts';
import type { MappedPatient } from '../segments/pid.ts';
import { mapPatient } from '../segments/pid.ts';
import { mapEncounter } from '../segments/pv1.ts';

/** Table 0123 result status (OBR-25) → DiagnosticReport.status. */
const REPORT_STATUS: Readonly<Record<string, DiagnosticReport['status']>> = {
  O: 'registered', I: 'registered', S: 'partial', A: 'partial', R: 'partial', P: 'preliminary', C: 'corrected', F: 'final', X: 'cancelled', Y: 'final', Z: 'final',
};

interface Report {
  obr: Hl7Segment;
  orc: Hl7Segment | undefined;
  notes: string[];
  results: Array<{ obx: Hl7Segment; notes: string[] }>;
}

function notesAfter(segments: Hl7Segment[], i: number): string[] {
  const out: string[] = [];
  for (let j = i + 1; j < segments.length && segments[j]!.name === 'NTE'; j++) {
    out.push(segments[j]!.field(3).repetitions.map((r) => r.value).join('\n'));
  }
  return out.filter(Boolean);
}

function mapReport(ctx: MappingContext, report: Report, patient: MappedPatient, encounter: Reference<Encounter> | undefined, fallbackKey: string): void {
  const { obr, orc } = report;
  const code = codeableConcept(ctx, obr.field(4).repetition(1));
  if (!code) throw new MappingError('OBR-4 universal service identifier is empty', '101', { segment: 'OBR', segmentIndex: obr.index, field: 4 });
  const filler = entityIdentifier(ctx, obr.field(3).repetition(1), 'FILL') ?? (orc && entityIdentifier(ctx, orc.field(3).repetition(1), 'FILL'));
  const placer = entityIdentifier(ctx, obr.field(2).repetition(1), 'PLAC') ?? (orc && entityIdentifier(ctx, orc.field(2).repetition(1), 'PLAC'));
  const identity: Identifier = filler ?? placer ?? { system: 'https://fhir.carebridge.cn/NamingSystem/hl7-report', value: derivedIdentifierValue(fallbackKey, obr.field(1).value || String(obr.index)) };
  const scope = derivedIdentifierValue(identity.system, identity.value);
  const effective = fieldDateTime(ctx, obr, 7);
  const section = obr.field(24).value.toUpperCase();
  const results: Reference<Observation>[] = report.results.map(({ obx, notes }) =>
    mapObservation(ctx, obx, { patient: patient.reference, encounter, scope, effective, category: section && section !== 'LAB' && section !== 'CH' && section !== 'HM' ? 'procedure' : 'laboratory', notes }),
  );
  const end = fieldDateTime(ctx, obr, 8);
  const diagnosticReport: DiagnosticReport = compact({
    resourceType: 'DiagnosticReport' as const,
    identifier: [filler, placer].filter((i) => i !== undefined),
    status: REPORT_STATUS[obr.field(25).value.toUpperCase()] ?? 'unknown',
    category: [{ coding: [{ system: SYSTEMS.v2('0074'), code: section || 'LAB' }] }],
    code,
    subject: patient.reference,
    encounter,
    effectiveDateTime: end ? undefined : effective,
    effectivePeriod: end ? compact({ start: effective, end }) : undefined,
    issued: toFhirInstant(obr.field(22).value, ctx.sender.timeZone),
    result: results,
    conclusion: report.notes.join('\n') || undefined,
  });
  ctx.bundle.upsert(diagnosticReport, identity);
}

export async function mapOru(ctx: MappingContext): Promise<void> {
  const segments = ctx.message.segments();
  let patient: MappedPatient | undefined;
  let encounter: Reference<Encounter> | undefined;
  let orc: Hl7Segment | undefined;
  let report: Report | undefined;
  const flush = () => {
    if (report && patient) mapReport(ctx, report, patient, encounter, ctx.message.controlId);
    report = undefined;
  };
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    switch (s.name) {
      case 'PID':
        flush();
        patient = await mapPatient(ctx, s, 'ensure');
        encounter = undefined;
        break;
      case 'PV1':
        if (patient) encounter = mapEncounter(ctx, s, patient.reference, 'R01', 'ensure')?.reference;
        break;
      case 'ORC':
        flush();
        orc = s;
        break;
      case 'OBR':
        flush();
        if (!patient) throw new MappingError('OBR before any PID: the result has no patient', '100', { segment: 'OBR', segmentIndex: s.index });
        report = { obr: s, orc, notes: notesAfter(segments, i), results: [] };
        orc = undefined;
        break;
      case 'OBX':
        if (report) report.results.push({ obx: s, notes: notesAfter(segments, i) });
        else if (patient) {
          // v2.7+ ORU_R01 allows OBX in the PATIENT group (observations about the patient, not
          // results of an order): an Observation of its own, without a report.
          mapObservation(ctx, s, { patient: patient.reference, encounter, scope: derivedIdentifierValue(patient.identity.system, patient.identity.value, ctx.message.controlId), notes: notesAfter(segments, i) });
        } else throw new MappingError('OBX before any PID: the observation has no patient', '100', { segment: 'OBX', segmentIndex: s.index });
        break;
      default:
        break;
    }
  }
  flush();
  if (!patient) throw new MappingError('the message has no PID segment', '100', { segment: 'PID' });
}
