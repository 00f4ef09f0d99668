/**
 * Loads the generated dataset through the server's own write path: transaction Bundles POSTed
 * to [base] with `Prefer: return=minimal`, by a few concurrent uploaders pulling the next Bundle
 * from the (lazy) generator, so only the Bundles in flight are in memory. The ids the server
 * assigned to the sample and heavy patients are read from the transaction-response Locations and
 * recorded, with the generator's match counts, in the manifest the query benchmark draws its
 * parameters from.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { HttpClient } from '../lib/http-client.ts';
import type { HttpReply } from '../lib/http-client.ts';
import { summarize } from '../lib/load.ts';
import type { LatencySummary } from '../lib/load.ts';
import { DATASET_NOW, DatasetGenerator, sharedBundle } from './generator.ts';
import type { DatasetStats, GeneratorOptions, SampleDetails, SharedRefs } from './generator.ts';

export const MANIFEST_FILE = 'bench-search-manifest.json';
/** Written before the first Bundle, removed when the manifest is written: marks an unfinished load. */
export const LOADING_FILE = 'bench-search-loading';

export interface SamplePatient extends SampleDetails {
  id: string;
}

export interface LoadSummary {
  clients: number;
  bundles: number;
  resources: number;
  seconds: number;
  resourcesPerSecond: number;
  bundleLatencyMs: LatencySummary;
  retries: number;
  /** VACUUM (ANALYZE) after the load, as autovacuum would eventually do. */
  vacuumSeconds: number;
  databaseBytes: number;
  serverMaxRssMiB: number | undefined;
}

export interface Manifest {
  version: 1;
  createdAt: string;
  generator: GeneratorOptions;
  /** The dataset's "today" (ISO). */
  datasetNow: string;
  shared: SharedRefs;
  stats: DatasetStats;
  samples: SamplePatient[];
  heavy: SamplePatient[];
  load: LoadSummary;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `Type/id` from a transaction-response entry's location (relative or absolute, with or without _history). */
function locationRef(location: string | undefined): string | undefined {
  const m = /([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})\/_history\/[^/]+$/.exec(location ?? '') ?? /([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(location ?? '');
  return m ? `${m[1]}/${m[2]}` : undefined;
}

function responseRefs(reply: HttpReply): Array<string | undefined> {
  const bundle = JSON.parse(reply.body.toString('utf8')) as { entry?: Array<{ response?: { location?: string } }> };
  return (bundle.entry ?? []).map((e) => locationRef(e.response?.location));
}

export interface LoadContext {
  fhirBaseUrl: string;
  clients: number;
  generator: GeneratorOptions;
  log: (message: string) => void;
}

/** POSTs one transaction; retries (with back-off) network errors and 5xx, which roll the whole Bundle back. */
async function postTransaction(http: HttpClient, basePath: string, body: string, what: string, onRetry: () => void): Promise<HttpReply> {
  for (let attempt = 1; ; attempt++) {
    let failure: string;
    try {
      const reply = await http.request('POST', basePath, body, { prefer: 'return=minimal' });
      if (reply.status === 200) return reply;
      failure = `HTTP ${reply.status}: ${reply.body.toString('utf8', 0, Math.min(reply.body.length, 600))}`;
      if (reply.status < 500) throw new Error(`${what}: ${failure}`);
    } catch (err) {
      if ((err as Error).message.startsWith(what)) throw err;
      failure = (err as Error).message;
    }
    if (attempt >= 4) throw new Error(`${what} failed ${attempt} times; last: ${failure}`);
    onRetry();
    await sleep(1000 * attempt);
  }
}

export async function loadDataset(ctx: LoadContext): Promise<Omit<Manifest, 'load'> & { load: Omit<LoadSummary, 'vacuumSeconds' | 'databaseBytes' | 'serverMaxRssMiB'> }> {
  const basePath = new URL(ctx.fhirBaseUrl).pathname;
  const http = new HttpClient(ctx.fhirBaseUrl, ctx.clients);
  let retries = 0;
  try {
    // The Organization and Practitioners every patient refers to.
    const shared = sharedBundle(ctx.generator.seed);
    const sharedIds = responseRefs(await postTransaction(http, basePath, shared.body, 'shared resources Bundle', () => retries++));
    const refs: SharedRefs = { organization: '', doctors: [], nurses: [] };
    shared.entries.forEach((e, i) => {
      const ref = sharedIds[i];
      if (!ref) throw new Error(`shared resources Bundle: entry ${i} has no Location`);
      if (e.role === 'organization') refs.organization = ref;
      else if (e.role === 'doctor') refs.doctors.push(ref);
      else refs.nurses.push(ref);
    });

    const generator = new DatasetGenerator(ctx.generator, refs);
    const bundles = generator.bundles();
    const ids = new Map<number, string>();
    const latencies: number[] = [];
    let resources = shared.entries.length;
    let done = 0;
    const started = performance.now();
    let lastReport = started;
    const expected = ctx.generator.patients * 52.6; // for the progress estimate only

    const worker = async (): Promise<void> => {
      for (;;) {
        const next = bundles.next();
        if (next.done) return;
        const b = next.value;
        const t0 = performance.now();
        const reply = await postTransaction(http, basePath, b.body, `Bundle ${b.sequence} (${b.entries} entries)`, () => retries++);
        latencies.push(performance.now() - t0);
        const wanted = b.patients.filter((p) => generator.heavyIndices.has(p.index) || generator.isSample(p.index));
        if (wanted.length) {
          const refsOut = responseRefs(reply);
          for (const p of wanted) {
            const ref = refsOut[p.entry];
            if (!ref?.startsWith('Patient/')) throw new Error(`Bundle ${b.sequence}: entry ${p.entry} is not a created Patient (${ref})`);
            ids.set(p.index, ref.slice('Patient/'.length));
          }
        }
        resources += b.entries;
        done++;
        const now = performance.now();
        if (now - lastReport > 15_000) {
          lastReport = now;
          const rate = resources / ((now - started) / 1000);
          ctx.log(`load: ${resources.toLocaleString('en-US')} resources in ${done} Bundles, ${Math.round(rate)} resources/s, ~${Math.max(0, Math.round((expected - resources) / rate / 60))} min left`);
        }
      }
    };
    await Promise.all(Array.from({ length: ctx.clients }, worker));
    const seconds = (performance.now() - started) / 1000;

    const withId = (s: SampleDetails): SamplePatient => {
      const id = ids.get(s.index);
      if (!id) throw new Error(`no id recorded for sample patient ${s.index}`);
      return { ...s, id };
    };
    return {
      version: 1,
      createdAt: new Date().toISOString(),
      generator: ctx.generator,
      datasetNow: new Date(DATASET_NOW).toISOString(),
      shared: refs,
      stats: generator.stats,
      samples: generator.samples.filter((s) => !s.heavy).map(withId),
      heavy: generator.samples.filter((s) => s.heavy).map(withId),
      load: { clients: ctx.clients, bundles: done + 1, resources, seconds, resourcesPerSecond: resources / seconds, bundleLatencyMs: summarize(latencies), retries },
    };
  } finally {
    http.close();
  }
}

export async function readManifest(dataDir: string): Promise<Manifest | undefined> {
  const text = await fs.readFile(path.join(dataDir, MANIFEST_FILE), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as Manifest);
}

export async function writeManifest(dataDir: string, manifest: Manifest): Promise<void> {
  await fs.writeFile(path.join(dataDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 1)}\n`);
  await fs.rm(path.join(dataDir, LOADING_FILE), { force: true });
}
