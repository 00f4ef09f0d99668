/**
 * Transaction ingest: every Synthea patient Bundle POSTed once to /fhir as a transaction
 * (Prefer: return=minimal), by 1, 2… parallel uploaders pulling from a shared queue; the figure is
 * resources created per second from the first request to the last response. The baseline inserts
 * the same Bundles' resources and index rows with one SQL transaction per Bundle, ids and
 * references resolved and index rows extracted beforehand. A few small Bundles are sent first,
 * untimed, to warm up both paths.
 */
import type { BaselineDb, BaselineVersion } from '../lib/baseline-sql.ts';
import { expectStatus, HttpClient } from '../lib/http-client.ts';
import { runWorkQueue } from '../lib/load.ts';
import type { LatencySummary } from '../lib/load.ts';
import type { RssSampler } from '../lib/rss.ts';
import type { ServerProcess } from '../lib/server-process.ts';
import { resolveBundle } from '../lib/synthea.ts';
import type { SyntheaBundle } from '../lib/synthea.ts';

export interface IngestResult {
  seconds: number;
  resourcesPerSecond: number;
  errors: number;
  firstError: string | undefined;
  /** Per-Bundle latency. */
  bundleLatencyMs: LatencySummary;
}

export interface IngestRow {
  concurrency: number;
  bundles: number;
  resources: number;
  server: IngestResult & { rssMaxMiB: number | undefined };
  baseline: IngestResult | undefined;
  /** baseline resources/s / server resources/s (target ≤ 3). */
  ratio: number | undefined;
}

export interface IngestContext {
  server: ServerProcess;
  baseline: BaselineDb | undefined;
  rss: RssSampler;
  analyze: (side: 'server' | 'baseline') => Promise<void>;
  log: (message: string) => void;
}

const WARMUP_BUNDLES = 2;

function smallest(bundles: readonly SyntheaBundle[], n: number): SyntheaBundle[] {
  return [...bundles].sort((a, b) => a.resources - b.resources).slice(0, n);
}

async function postTransaction(http: HttpClient, bundle: SyntheaBundle, check: boolean): Promise<void> {
  const reply = expectStatus(await http.request('POST', '/fhir', bundle.body, { prefer: 'return=minimal' }), 200, `transaction ${bundle.file}`);
  if (!check) return;
  const response = JSON.parse(reply.body.toString('utf8')) as { entry?: Array<{ response?: { status?: string } }> };
  const created = (response.entry ?? []).filter((e) => e.response?.status?.startsWith('201')).length;
  if (created !== bundle.resources) throw new Error(`transaction ${bundle.file}: ${created} of ${bundle.resources} entries answered 201`);
}

export async function runIngest(ctx: IngestContext, bundles: readonly SyntheaBundle[], concurrency: number): Promise<IngestRow> {
  const resources = bundles.reduce((n, b) => n + b.resources, 0);

  await ctx.analyze('server');
  const http = new HttpClient(ctx.server.url, concurrency);
  let server: IngestRow['server'];
  try {
    for (const b of smallest(bundles, WARMUP_BUNDLES)) await postTransaction(http, b, true);
    ctx.rss.takeWindowMaxMiB();
    const run = await runWorkQueue(bundles, concurrency, (b) => postTransaction(http, b, false));
    server = { seconds: run.seconds, resourcesPerSecond: run.errors ? Number.NaN : resources / run.seconds, errors: run.errors, firstError: run.firstError, bundleLatencyMs: run.latencyMs, rssMaxMiB: ctx.rss.takeWindowMaxMiB() };
  } finally {
    http.close();
  }
  ctx.log(`server   ingest c=${concurrency}: ${resources} resources in ${server.seconds.toFixed(2)} s = ${server.resourcesPerSecond.toFixed(0)} resources/s${server.errors ? `, ${server.errors} failed Bundles (${server.firstError})` : ''}`);

  let baseline: IngestResult | undefined;
  if (ctx.baseline) {
    const db = ctx.baseline;
    const lastUpdated = new Date().toISOString();
    const prepStarted = performance.now();
    const warmup = smallest(bundles, WARMUP_BUNDLES).map((b) => resolveBundle(b, lastUpdated));
    const prepared = bundles.map((b) => resolveBundle(b, lastUpdated));
    ctx.log(`baseline ingest c=${concurrency}: resolved ids, references and index rows in ${((performance.now() - prepStarted) / 1000).toFixed(1)} s (untimed)`);
    await ctx.analyze('baseline');
    for (const versions of warmup) await db.insertTransaction(versions, lastUpdated);
    const run = await runWorkQueue<BaselineVersion[]>(prepared, concurrency, (versions) => db.insertTransaction(versions, lastUpdated));
    baseline = { seconds: run.seconds, resourcesPerSecond: run.errors ? Number.NaN : resources / run.seconds, errors: run.errors, firstError: run.firstError, bundleLatencyMs: run.latencyMs };
    ctx.log(`baseline ingest c=${concurrency}: ${resources} resources in ${baseline.seconds.toFixed(2)} s = ${baseline.resourcesPerSecond.toFixed(0)} resources/s${baseline.errors ? `, ${baseline.errors} failed Bundles (${baseline.firstError})` : ''}`);
  }
  const ratio = baseline && server.resourcesPerSecond > 0 ? baseline.resourcesPerSecond / server.resourcesPerSecond : undefined;
  return { concurrency, bundles: bundles.length, resources, server, baseline, ratio };
}
