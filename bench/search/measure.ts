/**
 * Runs one query: a probe (a few sequential requests with different parameters, each answer
 * checked for correctness; a 4xx means the server does not support the query yet), then a
 * closed-loop measurement per client count. Unlike bench/lib/load.ts's loop, a request counts when
 * it *started* inside the measurement window, so a query slower than the window still yields
 * latencies instead of nothing; answers are not parsed while measuring (only the status is
 * checked), so the load generator stays cheap on a small machine.
 */
import { HttpClient } from '../lib/http-client.ts';
import { summarize } from '../lib/load.ts';
import type { LatencySummary, LoadResult } from '../lib/load.ts';
import type { QueryInstance, SearchBundle } from './queries.ts';

export interface Measurement extends LoadResult {
  /** Largest server RSS during this measurement (MiB). */
  rssMaxMiB: number | undefined;
}

export interface ProbeResult {
  requests: number;
  /** 'ok', 'unsupported (400)', 'error (500)', 'too slow'. */
  status: string;
  latencyMs: LatencySummary;
  /** Distinct problems found in the answers, each with one request that showed it. */
  mismatches: string[];
  example: string;
}

export interface QueryResult {
  id: string;
  title: string;
  varies: string;
  selective: boolean;
  probe: ProbeResult;
  runs: Measurement[];
}

const HEADERS = { prefer: 'handling=strict' };
/** A query whose probe takes longer than this (median) is not load-tested. */
const TOO_SLOW_MS = 20_000;

export class QueryRunner {
  private readonly fhirBaseUrl: string;
  private readonly basePath: string;

  constructor(fhirBaseUrl: string) {
    this.fhirBaseUrl = fhirBaseUrl;
    this.basePath = new URL(fhirBaseUrl).pathname;
  }

  url(instance: QueryInstance): string {
    return `${this.basePath}/${instance.path}`;
  }

  async probe(next: () => QueryInstance, requests: number): Promise<ProbeResult> {
    const http = new HttpClient(this.fhirBaseUrl, 1);
    const latencies: number[] = [];
    const mismatches = new Map<string, string>();
    let status = 'ok';
    let example = '';
    try {
      for (let i = 0; i < requests; i++) {
        const instance = next();
        example ||= instance.path;
        const t0 = performance.now();
        const reply = await http.request('GET', this.url(instance), undefined, HEADERS);
        const elapsed = performance.now() - t0;
        latencies.push(elapsed);
        if (reply.status !== 200) {
          const text = reply.body.toString('utf8', 0, Math.min(reply.body.length, 400));
          let diagnostics = text;
          try {
            diagnostics = (JSON.parse(reply.body.toString('utf8')) as { issue?: Array<{ diagnostics?: string }> }).issue?.[0]?.diagnostics ?? text;
          } catch {
            // not JSON
          }
          status = reply.status < 500 ? `unsupported (${reply.status})` : `error (${reply.status})`;
          mismatches.set(`HTTP ${reply.status}: ${diagnostics.slice(0, 300)}`, instance.path);
          break;
        }
        let bundle: SearchBundle;
        try {
          bundle = JSON.parse(reply.body.toString('utf8')) as SearchBundle;
        } catch {
          mismatches.set('answer is not JSON', instance.path);
          continue;
        }
        const outcome = bundle.entry?.find((e) => e.search?.mode === 'outcome');
        if (outcome) mismatches.set(`OperationOutcome in the Bundle: ${JSON.stringify(outcome.resource?.issue?.[0]?.diagnostics ?? '').slice(0, 200)}`, instance.path);
        for (const problem of instance.check(bundle)) if (!mismatches.has(problem)) mismatches.set(problem, instance.path);
        if (elapsed > TOO_SLOW_MS && i >= 1) {
          status = 'too slow';
          break;
        }
      }
    } finally {
      http.close();
    }
    const latencyMs = summarize(latencies);
    if (status === 'ok' && latencyMs.p50 > TOO_SLOW_MS) status = 'too slow';
    return { requests: latencies.length, status, latencyMs, mismatches: [...mismatches].map(([problem, path]) => `${problem} — ${path}`), example };
  }

  async measure(next: () => QueryInstance, concurrency: number, warmupMs: number, durationMs: number): Promise<Omit<Measurement, 'rssMaxMiB'>> {
    const http = new HttpClient(this.fhirBaseUrl, concurrency);
    const latencies: number[] = [];
    let errors = 0;
    let firstError: string | undefined;
    const start = performance.now();
    const measureStart = start + warmupMs;
    const measureEnd = measureStart + durationMs;
    let lastDone = measureStart;
    const client = async (): Promise<void> => {
      while (performance.now() < measureEnd) {
        const path = this.url(next());
        const t0 = performance.now();
        let failure: string | undefined;
        try {
          const reply = await http.request('GET', path, undefined, HEADERS);
          if (reply.status !== 200) failure = `HTTP ${reply.status}: ${reply.body.toString('utf8', 0, Math.min(reply.body.length, 200))}`;
        } catch (err) {
          failure = (err as Error).message;
        }
        const t1 = performance.now();
        if (t0 < measureStart) continue; // warm-up
        lastDone = Math.max(lastDone, t1);
        if (failure === undefined) latencies.push(t1 - t0);
        else {
          errors++;
          firstError ??= failure;
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: concurrency }, client));
    } finally {
      http.close();
    }
    const seconds = (lastDone - measureStart) / 1000;
    return { concurrency, ops: latencies.length, errors, firstError, seconds, throughput: seconds > 0 ? latencies.length / seconds : 0, latencyMs: summarize(latencies) };
  }
}

