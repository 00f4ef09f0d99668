/**
 * ADT A40 (merge patient — patient identifier list): PID is the surviving patient, MRG-1 the
 * identifier of the one merged into it (v2.5.1 §3.3.40). The old Patient is kept but retired
 * (`active: false`, `link` replaced-by), the survivor links back (`replaces`), and every resource
 * in the old Patient's compartment is moved to the survivor — so searches by patient find all of
 * it in one place, while the old id still resolves for anyone holding it.
 */
import type { Identifier, Patient, Resource } from '@medplum/fhirtypes';
import { identifierQuery } from '../bundle-builder.ts';
import type { MappingContext } from '../context.ts';
import { MappingError, warn } from '../context.ts';
import { identifier } from '../datatypes.ts';
import { mapPatient } from '../segments/pid.ts';

/** Replaces every `Patient/{from}` reference in a resource with `to` (a urn:uuid or Patient/id). */
function repoint(resource: Resource, from: string, to: string): Resource {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = k === 'reference' && v === from ? to : walk(v);
      return out;
    }
    return value;
  };
  return walk(resource) as Resource;
}

export async function mapMerge(ctx: MappingContext): Promise<void> {
  const mrgSegments = ctx.message.segments('MRG');
  if (!mrgSegments.length) throw new MappingError('A40 needs an MRG segment naming the patient to merge', '100', { segment: 'MRG' });
  const survivor = await mapPatient(ctx, ctx.message.segment('PID'), 'update');
  // The survivor's stored links first: the merge adds to them.
  await ctx.store.settle(ctx.bundle.conditions());
  const survivorResource = survivor.resource;
  for (const mrg of mrgSegments) {
    const priorIds = mrg.field(1).repetitions.map((r) => identifier(ctx, r)).filter((i): i is Identifier => !!i);
    if (!priorIds.length) throw new MappingError('MRG-1 prior patient identifier list is empty', '101', { segment: 'MRG', segmentIndex: mrg.index, field: 1 });
    let old: Patient | undefined;
    for (const id of priorIds) {
      const found = await ctx.store.findOne('Patient', identifierQuery(id));
      if (found?.resourceType === 'Patient') {
        old = found;
        break;
      }
    }
    if (!old?.id) {
      warn(ctx, `MRG-1: no patient with identifier ${priorIds.map((i) => `${i.system}|${i.value}`).join(' or ')}; nothing to merge`, { segment: 'MRG', segmentIndex: mrg.index, field: 1 });
      continue;
    }
    if (survivorResource.identifier?.some((i) => old.identifier?.some((o) => o.system === i.system && o.value === i.value)) && priorIds.every((p) => survivorResource.identifier?.some((i) => i.system === p.system && i.value === p.value))) {
      throw new MappingError('MRG-1 names the surviving patient itself', '205', { segment: 'MRG', segmentIndex: mrg.index, field: 1 });
    }
    const from = `Patient/${old.id}`;
    for (const resource of await ctx.store.compartment(old.id)) {
      if (resource.resourceType === 'Patient' || !resource.id) continue;
      const moved = repoint(resource, from, survivor.reference.reference as string);
      // $everything also returns what the compartment refers to (practitioners, …): leave those.
      if (JSON.stringify(moved) === JSON.stringify(resource)) continue;
      ctx.bundle.put({ ...moved, meta: undefined } as Resource & { id: string });
    }
    // The retired record keeps its identifiers but no longer matches the survivor's key.
    const retired: Patient & { id: string } = {
      ...(old as Patient & { id: string }),
      meta: undefined,
      active: false,
      link: [...(old.link ?? []).filter((l) => l.type !== 'replaced-by'), { other: survivor.reference, type: 'replaced-by' }],
    };
    ctx.bundle.put(retired);
    if (!survivorResource.link?.some((l) => l.type === 'replaces' && l.other.reference === from)) {
      survivorResource.link = [...(survivorResource.link ?? []), { other: { reference: from }, type: 'replaces' }];
    }
  }
}
