/**
 * A parsed message → the FHIR transaction Bundle that applies it (one per message, idempotent:
 * see bundle-builder.ts), by message type. Throws MappingError when the message cannot be applied.
 */
import type { Bundle } from '@medplum/fhirtypes';
import type { MappingContext } from './context.ts';
import { MappingError } from './context.ts';
import { mapAdt } from './messages/adt.ts';
import { mapMerge } from './messages/merge.ts';
import { mapOru } from './messages/oru.ts';
import { mapPharmacyOrder } from './messages/pharmacy.ts';
import { addProvenance } from './provenance.ts';
import { translateLocalCodes } from './translate-codes.ts';

/** MSH-9 values this mapper applies (the listener rejects others with AR). */
export const MAPPED_MESSAGE_TYPES: ReadonlySet<string> = new Set([
  ...['A01', 'A02', 'A03', 'A04', 'A05', 'A08', 'A11', 'A13', 'A40'].map((t) => `ADT^${t}`),
  'ORU^R01',
  'RDE^O11',
  'RDE^O25',
  'OMP^O09',
]);

/** The ADT triggers mapAdt applies (A40 is a merge: mapMerge). */
function mappedAsAdt(ctx: MappingContext): boolean {
  const { code, triggerEvent } = ctx.message.messageType;
  return code === 'ADT' && triggerEvent !== 'A40' && MAPPED_MESSAGE_TYPES.has(`${code}^${triggerEvent}`);
}

/**
 * Maps the message into ctx.bundle, all but its Provenance resource (which names the message's
 * log id, not known before the log row is): the function returned adds it and gives the Bundle.
 * The mappers build their resources without waiting for the store; what they read from it
 * (StoreView.whenFound) is looked up at the end, with the conditions of every conditional write,
 * in one round trip (StoreView.settle) — so the message's transaction finds its conditions
 * resolved and its rows locked.
 */
export async function mapContent(ctx: MappingContext): Promise<() => Bundle> {
  const { code, triggerEvent } = ctx.message.messageType;
  const type = `${code}^${triggerEvent}`;
  if (type === 'ADT^A40') await mapMerge(ctx);
  else if (mappedAsAdt(ctx)) await mapAdt(ctx, triggerEvent);
  else if (type === 'ORU^R01') await mapOru(ctx);
  else if (type === 'RDE^O11' || type === 'RDE^O25' || type === 'OMP^O09') await mapPharmacyOrder(ctx);
  else throw new MappingError(`message type ${type} is not supported`, '200', { segment: 'MSH', segmentIndex: 1, field: 9 });
  await translateLocalCodes(ctx, ctx.bundle.resources());
  const addProvenanceResource = addProvenance(ctx);
  await ctx.store.settle(ctx.bundle.conditions());
  return () => {
    addProvenanceResource();
    return ctx.bundle.build();
  };
}
