/**
 * The follow-up protocols CareBridge ships (protocols/*.json, PlanDefinition resources): created in
 * the store at start when missing, never overwritten — a deployment's edits through the API stay.
 */
import type { Coding, PlanDefinition, Resource } from '@medplum/fhirtypes';
import fs from 'node:fs';
import type { FhirStore } from '../../fhir/index.ts';
import { DerivedCache, FhirError, searchAll } from '../../fhir/index.ts';

/** The extension on a protocol action naming what the patient measures at home. */
export const MONITORING_CODE = 'https://carebridge.dev/fhir/StructureDefinition/monitoring-code';

const SHIPPED = ['transitional-care.json', 'hypertension.json', 'type-2-diabetes.json', 'heart-failure.json', 'staged-programme.json'];
/** Other definitions shipped beside the protocols (the follow-up form). */
const SHIPPED_OTHER = ['follow-up-questionnaire.json'];

const read = <T>(file: string): T => JSON.parse(fs.readFileSync(new URL(`../protocols/${file}`, import.meta.url), 'utf8')) as T;

export function shippedProtocols(): PlanDefinition[] {
  return SHIPPED.map((file) => read<PlanDefinition>(file));
}

/** Creates the shipped protocols and forms that are missing; never overwrites what is stored. */
export async function installProtocols(store: FhirStore): Promise<void> {
  for (const definition of [...shippedProtocols(), ...SHIPPED_OTHER.map((file) => read<Resource & { id: string }>(file))]) {
    try {
      await store.read(definition.resourceType, definition.id as string);
    } catch (err) {
      if (!(err instanceof FhirError)) throw err;
      await store.update(definition);
    }
  }
}

const EXT = 'https://carebridge.dev/fhir/StructureDefinition';

const normalise = (code: string) => code.toUpperCase().replace(/[.\s]/g, '');

/**
 * The protocols that apply to a discharge: follow-up protocols (type clinical-protocol) that apply
 * to every discharge (extension applies-to-all-discharges) or to one of the discharge diagnoses
 * (extension applies-to-diagnoses: ICD-10 prefixes; 国临版 codes match by prefix after the dot is
 * removed). Other PlanDefinitions in the store are not follow-up protocols and never apply.
 */
export function selectProtocols(protocols: readonly PlanDefinition[], diagnosisCodes: readonly string[]): PlanDefinition[] {
  const codes = diagnosisCodes.map(normalise);
  const forAll = (p: PlanDefinition) => p.extension?.some((e) => e.url === `${EXT}/applies-to-all-discharges` && e.valueBoolean === true) ?? false;
  // A stable order (the every-discharge protocols first, then by url): the CarePlan must come out
  // the same on a replay.
  const ordered = [...protocols].sort((a, b) => Number(forAll(b)) - Number(forAll(a)) || (a.url ?? '').localeCompare(b.url ?? ''));
  return ordered.filter((p) => {
    if (p.status !== 'active' || !p.type?.coding?.some((c) => c.code === 'clinical-protocol')) return false;
    if (forAll(p)) return true;
    const prefixes = (p.extension ?? []).filter((e) => e.url === `${EXT}/applies-to-diagnoses`).flatMap((e) => e.valueCodeableConcept?.coding ?? []).map((c) => normalise(c.code ?? '')).filter(Boolean);
    return prefixes.some((prefix) => codes.some((code) => code.startsWith(prefix)));
  });
}

/**
 * The active PlanDefinitions, kept in memory: every discharge and every Observation (threshold
 * overrides, what is monitored) needs them, and they change rarely. `invalidate()` is called after
 * any commit that writes a PlanDefinition through this server process (server.ts).
 */
export class ProtocolCache {
  readonly #store: FhirStore;
  readonly #cache: DerivedCache<{ protocols: PlanDefinition[]; monitoring: Coding[] }>;

  constructor(store: FhirStore, ttlMs: number) {
    this.#store = store;
    this.#cache = new DerivedCache(ttlMs);
  }

  invalidate(): void {
    this.#cache.invalidate();
  }

  #load(): Promise<{ protocols: PlanDefinition[]; monitoring: Coding[] }> {
    return this.#cache.get('active', async () => {
      const protocols = (await searchAll(this.#store, 'PlanDefinition', new URLSearchParams({ status: 'active' }))).map((v) => JSON.parse(v.content as string) as PlanDefinition);
      const monitoring = protocols.flatMap((p) => (p.action ?? []).flatMap((a) => a.extension?.filter((e) => e.url === MONITORING_CODE && e.valueCoding).map((e) => e.valueCoding as Coding) ?? []));
      return { protocols, monitoring };
    });
  }

  async active(): Promise<PlanDefinition[]> {
    return (await this.#load()).protocols;
  }

  /** What the protocols' home-monitoring actions measure (their `monitoring-code` extensions); the same array until the protocols change. */
  async monitoringCodes(): Promise<readonly Coding[]> {
    return (await this.#load()).monitoring;
  }

  async byId(id: string): Promise<PlanDefinition | undefined> {
    return (await this.active()).find((p) => p.id === id);
  }
}
