/**
 * $reindex — rebuilds the search index rows of existing resources, e.g. after a custom
 * SearchParameter was added (asynchronous: http://hl7.org/fhir/R4/async.html style).
 * `POST [base]/$reindex` or `POST [base]/[type]/$reindex` queues a job and answers 202 with its
 * status URL; `GET [base]/$reindex/[job]` reports progress. Jobs live in PostgreSQL and any node's
 * worker advances them a batch at a time (each batch one transaction, holding the row locks of
 * its resources), so a job survives restarts and runs once across nodes.
 */
import { randomUUID } from 'node:crypto';
import type { Parameters, Resource } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import type { Pool } from '../../db/pool.ts';
import { withTransaction } from '../../db/pool.ts';
import { allResourceTypes } from '../definitions.ts';
import { errors } from '../errors.ts';
import { extractIndexRows } from '../search/index-rows.ts';
import { rewriteIndexRows } from '../store/write-versions.ts';

export const REINDEX_BATCH = 500;

export interface ReindexJob {
  id: string;
  resourceTypes: string[];
  status: 'queued' | 'running' | 'completed' | 'failed';
  total: number;
  processed: number;
  error: string | null;
}

interface JobRow {
  id: string;
  resource_types: string[];
  status: ReindexJob['status'];
  total: number | null;
  processed: number;
  cursor_type: string | null;
  cursor_id: string | null;
  error: string | null;
}

const toJob = (r: JobRow): ReindexJob => ({ id: r.id, resourceTypes: r.resource_types, status: r.status, total: r.total ?? 0, processed: r.processed, error: r.error });

export async function queueReindex(pool: Pool, resourceTypes: string[] | undefined): Promise<ReindexJob> {
  const types = resourceTypes?.length ? resourceTypes : allResourceTypes();
  const { rows } = await pool.query<JobRow>(
    `INSERT INTO reindex_job (id, resource_types, status, total)
     SELECT $1, $2, 'queued', (SELECT count(*)::int FROM fhir_resource WHERE resource_type = ANY($2::text[]) AND NOT deleted)
     RETURNING *`,
    [randomUUID(), types],
  );
  return toJob(rows[0] as JobRow);
}

export async function reindexStatus(pool: Pool, id: string): Promise<ReindexJob> {
  const { rows } = await pool.query<JobRow>('SELECT * FROM reindex_job WHERE id = $1', [id]);
  if (!rows[0]) throw errors.notFound('$reindex', id);
  return toJob(rows[0]);
}

export function jobParameters(job: ReindexJob): Parameters {
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'id', valueString: job.id },
      { name: 'status', valueCode: job.status },
      { name: 'total', valueInteger: job.total },
      { name: 'processed', valueInteger: job.processed },
      { name: 'progress', valueDecimal: job.total ? Math.round((job.processed / job.total) * 1000) / 1000 : 1 },
      ...job.resourceTypes.length < 20 ? job.resourceTypes.map((t) => ({ name: 'type', valueCode: t })) : [],
      ...(job.error ? [{ name: 'error', valueString: job.error }] : []),
    ],
  };
}

/** Advances one job by one batch; false when there was nothing to do. */
export async function reindexBatch(pool: Pool): Promise<boolean> {
  return withTransaction(pool, async (client) => {
    const { rows: jobs } = await client.query<JobRow>(
      `SELECT * FROM reindex_job WHERE status IN ('queued', 'running') ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
    );
    const job = jobs[0];
    if (!job) return false;
    const { rows } = await client.query<{ resource_type: string; id: string; content: string }>(
      `SELECT resource_type, id, content FROM fhir_resource
       WHERE resource_type = ANY($1::text[]) AND NOT deleted AND (resource_type, id) > ($2, $3)
       ORDER BY resource_type, id LIMIT $4 FOR UPDATE`,
      [job.resource_types, job.cursor_type ?? '', job.cursor_id ?? '', REINDEX_BATCH],
    );
    await rewriteIndexRows(
      client,
      rows.map((r) => ({ resourceType: r.resource_type, id: r.id, rows: extractIndexRows(JSON.parse(r.content) as Resource) })),
    );
    const last = rows[rows.length - 1];
    await client.query(
      `UPDATE reindex_job SET status = $2, processed = processed + $3, cursor_type = $4, cursor_id = $5, updated_at = now() WHERE id = $1`,
      [job.id, rows.length < REINDEX_BATCH ? 'completed' : 'running', rows.length, last?.resource_type ?? job.cursor_type, last?.id ?? job.cursor_id],
    );
    return true;
  });
}

/** Runs queued reindex jobs in the background: polls, then works batch after batch while there is work. */
export class ReindexWorker {
  private stopped = false;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly pool: Pool;
  private readonly logger: Logger;
  private readonly pollMs: number;

  constructor(pool: Pool, logger: Logger, pollMs = 2000) {
    this.pool = pool;
    this.logger = logger;
    this.pollMs = pollMs;
  }

  start(): void {
    this.running = this.loop();
  }

  /** Skips the wait: a job was just queued. */
  nudge(): void {
    this.wake?.();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let worked = false;
      try {
        worked = await reindexBatch(this.pool);
      } catch (err) {
        this.logger.error({ err }, '$reindex batch failed; retrying');
      }
      if (!worked && !this.stopped) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.pollMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
  }
}
