/**
 * What every mapper gets: the parsed message, the sender's configuration, the bundle being built,
 * a read-only view of the store (inside the message's database transaction) and the place to
 * record warnings. Errors that make a message impossible to apply are thrown as MappingError and
 * become an AE with an ERR segment naming the field (HL7 v2.5.1 §2.9, Table 0357).
 */
import type { Coding, Resource } from '@medplum/fhirtypes';
import type { Hl7Message } from '../parse/message.ts';
import type { SenderConfig } from '../senders/sender-config.ts';
import type { BundleBuilder } from './bundle-builder.ts';
import type { CodeSystemResolver } from './code-systems.ts';

export interface Hl7Location {
  segment: string;
  /** 1-based position of the segment in the message. */
  segmentIndex?: number;
  field?: number;
}

/** The message is valid HL7 but cannot be applied: AE, status failed, kept for reprocessing. */
export class MappingError extends Error {
  readonly hl7ErrorCode: string;
  readonly location: Hl7Location | undefined;
  constructor(message: string, hl7ErrorCode: string, location?: Hl7Location) {
    super(message);
    this.hl7ErrorCode = hl7ErrorCode;
    this.location = location;
  }
}

export interface MappingWarning extends Hl7Location {
  reason: string;
}

/** Looks up translations for a local coding (ConceptMap $translate); none when unmapped. */
export type CodeTranslator = (coding: Coding) => Promise<Coding[]>;

/**
 * Reads current resources inside the message's transaction (e.g. the Encounter an A08 updates).
 * Mappers ask with whenFound and go on building; mapContent then settles every lookup, together
 * with the conditions of the message's writes, in one round trip.
 */
export interface StoreView {
  findOne(resourceType: string, query: string): Promise<Resource | undefined>;
  /**
   * Asks for the resource `query` finds, for `use` to carry what it needs of it into the resource
   * being mapped; `use` runs in the next `settle` (with undefined when nothing matches).
   */
  whenFound(resourceType: string, query: string, use: (found: Resource | undefined) => void): void;
  /**
   * Looks up what whenFound asked for and the `conditions` of the message's conditional writes in
   * one round trip, resolved as its transaction will resolve them (which then skips them), and
   * runs the `use`s; later findOne calls with the same queries are answered from it.
   */
  settle(conditions: ReadonlyArray<{ resourceType: string; query: string; forWrite: boolean }>): Promise<void>;
  /** Whether the settled condition of a conditional create found a resource (false for any other). */
  found(resourceType: string, query: string): boolean;
  /** Resources in a patient's compartment (for an A40 merge to move). */
  compartment(patientId: string): Promise<Resource[]>;
}

export interface MappingContext {
  message: Hl7Message;
  sender: SenderConfig;
  systems: CodeSystemResolver;
  bundle: BundleBuilder;
  store: StoreView;
  warnings: MappingWarning[];
  /** ConceptMap translation of a sender's local codes (counted when unmapped). */
  translate: CodeTranslator;
  /** Local codings no ConceptMap translated, by system, for the message log and metrics. */
  unmapped: Coding[];
  /** Id of the hl7_message row: the identity of this message everywhere it is referenced. */
  messageLogId: string;
}

export function warn(ctx: MappingContext, reason: string, location: Hl7Location): void {
  ctx.warnings.push({ reason, ...location });
}
