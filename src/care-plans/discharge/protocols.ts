/**
 * The follow-up protocols CareBridge ships (protocols/*.json, PlanDefinition resources): created in
 * the store at start when missing, never overwritten — a deployment's edits through the API stay.
 */
import type { PlanDefinition } from '@medplum/fhirtypes';
import fs from 'node:fs';
import type { FhirStore } from '../../fhir/index.ts';
import { FhirError } from '../../fhir/index.ts';

const SHIPPED = ['transitional-care.json'];

export function shippedProtocols(): PlanDefinition[] {
  return SHIPPED.map((file) => JSON.parse(fs.readFileSync(new URL(`../protocols/${file}`, import.meta.url), 'utf8')) as PlanDefinition);
}

export async function installProtocols(store: FhirStore): Promise<void> {
  for (const protocol of shippedProtocols()) {
    try {
      await store.read('PlanDefinition', protocol.id as string);
    } catch (err) {
      if (!(err instanceof FhirError)) throw err;
      await store.update(protocol);
    }
  }
}
