/**
 * Single-resource create, read and update of Patients: throughput and latency percentiles with
 * N closed-loop clients, against the server over HTTP and against the raw-SQL baseline.
 * - create: POST /fhir/Patient (Prefer: return=minimal); baseline: one INSERT statement
 *   (resource + index rows + event).
 * - read: GET /fhir/Patient/{id} of a random previously created id; baseline: SELECT by primary key.
 * - update: PUT /fhir/Patient/{id} of a random previously created id with a new phone number;
 *   baseline: BEGIN, SELECT … FOR UPDATE, one statement moving the old version to history and
 *   replacing the current row and index rows, COMMIT.
 * Server and baseline runs of one (operation, clients) pair run back to back, so both see the
 * same machine conditions and a database of about the same size.
 */
import { randomUUID } from 'node:crypto';
import type { BaselineDb } from '../lib/baseline-sql.ts';
import { BaselineTemplate } from '../lib/baseline-sql.ts';
import { expectStatus, HttpClient } from '../lib/http-client.ts';
import { runClosedLoop } from '../lib/load.ts';
import type { LoadResult } from '../lib/load.ts';
import type { BenchOptions } from '../lib/options.ts';
import { makePatients, UpdateTemplate } from '../lib/payloads.ts';
import type { RssSampler } from '../lib/rss.ts';
import type { ServerProcess } from '../lib/server-process.ts';

export type CrudOperation = 'create' | 'read' | 'update';

export interface ServerLoadResult extends LoadResult {
  /** Max RSS of the server process during this run (warm-up included). */
  rssMaxMiB: number | undefined;
}

export interface CrudRow {
  operation: CrudOperation;
  concurrency: number;
  server: ServerLoadResult;
  baseline: LoadResult | undefined;
  /** baseline throughput / server throughput (target ≤ 3). */
  ratio: number | undefined;
}

export interface CrudContext {
  options: BenchOptions;
  server: ServerProcess;
  baseline: BaselineDb | undefined;
  rss: RssSampler;
  /** Refreshes planner statistics of one side's database before a measured run (a no-op when disabled). */
  analyze: (side: 'server' | 'baseline') => Promise<void>;
  log: (message: string) => void;
}

/** Distinct payloads cycled through; enough that the data is varied, few enough to prepare in a second. */
const PAYLOADS = 1000;
/** Reads and updates need something to pick from when they run without a create scenario before them. */
const MIN_IDS = 1000;

const LOCATION_ID = /\/Patient\/([^/]+)\/_history\//;
const pickRandom = (ids: readonly string[]): string => ids[Math.floor(Math.random() * ids.length)] as string;

export class CrudScenarios {
  private readonly ctx: CrudContext;
  private readonly createBodies: string[];
  private readonly updateTemplates: UpdateTemplate[];
  private readonly baselineTemplates: BaselineTemplate[];
  private readonly serverIds: string[] = [];
  private readonly baselineIds: string[] = [];
  private sequence = 0;

  constructor(ctx: CrudContext) {
    this.ctx = ctx;
    const patients = makePatients(ctx.options.seed, PAYLOADS);
    this.createBodies = patients.map((p) => JSON.stringify(p));
    // Updates use other payloads than creates, so an update really changes the resource.
    this.updateTemplates = makePatients(ctx.options.seed + 1, PAYLOADS).map((p) => new UpdateTemplate(p));
    this.baselineTemplates = ctx.baseline ? patients.map((p) => new BaselineTemplate(p)) : [];
  }

  private serverOp(op: CrudOperation, http: HttpClient): (client: number) => Promise<void> {
    switch (op) {
      case 'create':
        return async () => {
          const body = this.createBodies[this.sequence++ % PAYLOADS] as string;
          const reply = expectStatus(await http.request('POST', '/fhir/Patient', body, { prefer: 'return=minimal' }), 201, 'create');
          const id = LOCATION_ID.exec(String(reply.headers.location ?? ''))?.[1];
          if (!id) throw new Error(`create: no id in Location "${reply.headers.location}"`);
          this.serverIds.push(id);
        };
      case 'read':
        return async () => {
          expectStatus(await http.request('GET', `/fhir/Patient/${pickRandom(this.serverIds)}`), 200, 'read');
        };
      case 'update':
        return async () => {
          const id = pickRandom(this.serverIds);
          const seq = this.sequence++;
          const body = (this.updateTemplates[seq % PAYLOADS] as UpdateTemplate).body(id, seq);
          expectStatus(await http.request('PUT', `/fhir/Patient/${id}`, body, { prefer: 'return=minimal' }), 200, 'update');
        };
    }
  }

  private baselineOp(op: CrudOperation, db: BaselineDb): (client: number) => Promise<void> {
    switch (op) {
      case 'create':
        return async () => {
          const template = this.baselineTemplates[this.sequence++ % PAYLOADS] as BaselineTemplate;
          const id = randomUUID();
          const lastUpdated = new Date().toISOString();
          await db.insert([{ resourceType: template.resourceType, id, content: template.content(id, 1, lastUpdated), rows: template.rows }], lastUpdated);
          this.baselineIds.push(id);
        };
      case 'read':
        return async () => {
          const id = pickRandom(this.baselineIds);
          if ((await db.read('Patient', id)) === undefined) throw new Error(`baseline read: Patient/${id} not found`);
        };
      case 'update':
        return async () => {
          const template = this.baselineTemplates[this.sequence++ % PAYLOADS] as BaselineTemplate;
          await db.update(pickRandom(this.baselineIds), template, new Date().toISOString());
        };
    }
  }

  /** Creates Patients (untimed) until both sides have at least MIN_IDS to read and update. */
  private async ensureIds(): Promise<void> {
    const fill = async (ids: string[], op: (client: number) => Promise<void>) => {
      const worker = async (client: number) => {
        while (ids.length < MIN_IDS) await op(client);
      };
      await Promise.all(Array.from({ length: 8 }, (_, i) => worker(i)));
    };
    if (this.serverIds.length < MIN_IDS) {
      this.ctx.log(`seeding ${MIN_IDS - this.serverIds.length} Patients on the server (untimed)`);
      const http = new HttpClient(this.ctx.server.url, 8);
      try {
        await fill(this.serverIds, this.serverOp('create', http));
      } finally {
        http.close();
      }
    }
    if (this.ctx.baseline && this.baselineIds.length < MIN_IDS) {
      this.ctx.log(`seeding ${MIN_IDS - this.baselineIds.length} Patients in the baseline database (untimed)`);
      await fill(this.baselineIds, this.baselineOp('create', this.ctx.baseline));
    }
  }

  async run(op: CrudOperation, concurrency: number): Promise<CrudRow> {
    const { options, rss } = this.ctx;
    if (op !== 'create') await this.ensureIds();
    const timing = { concurrency, warmupMs: options.warmupSeconds * 1000, durationMs: options.seconds * 1000 };

    await this.ctx.analyze('server');
    const http = new HttpClient(this.ctx.server.url, concurrency);
    let server: ServerLoadResult;
    try {
      rss.takeWindowMaxMiB();
      const result = await runClosedLoop({ ...timing, op: this.serverOp(op, http) });
      server = { ...result, rssMaxMiB: rss.takeWindowMaxMiB() };
    } finally {
      http.close();
    }
    this.ctx.log(`server   ${op} c=${concurrency}: ${server.throughput.toFixed(0)} ops/s, p50 ${server.latencyMs.p50.toFixed(2)} ms, p99 ${server.latencyMs.p99.toFixed(2)} ms${server.errors ? `, ${server.errors} errors (${server.firstError})` : ''}`);

    let baseline: LoadResult | undefined;
    if (this.ctx.baseline) {
      await this.ctx.analyze('baseline');
      baseline = await runClosedLoop({ ...timing, op: this.baselineOp(op, this.ctx.baseline) });
      this.ctx.log(`baseline ${op} c=${concurrency}: ${baseline.throughput.toFixed(0)} ops/s, p50 ${baseline.latencyMs.p50.toFixed(2)} ms, p99 ${baseline.latencyMs.p99.toFixed(2)} ms${baseline.errors ? `, ${baseline.errors} errors (${baseline.firstError})` : ''}`);
    }
    const ratio = baseline && server.throughput > 0 ? baseline.throughput / server.throughput : undefined;
    return { operation: op, concurrency, server, baseline, ratio };
  }
}
