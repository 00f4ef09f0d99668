/** Every resource of the Synthea fixture bundles (tests/fixtures/synthea, see SOURCES.md there), in file order. */
import fs from 'node:fs';
import type { Bundle, Resource } from '@medplum/fhirtypes';

export function syntheaResources(): Resource[] {
  const dir = new URL('../fixtures/synthea/', import.meta.url);
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .flatMap((f) => ((JSON.parse(fs.readFileSync(new URL(f, dir), 'utf8')) as Bundle).entry ?? []).map((e) => e.resource as Resource));
}
