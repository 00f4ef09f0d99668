/**
 * Keeps the planner's statistics in step with tables that grow fast, above all on a new database.
 *
 * autovacuum analyses a table once 50 rows + 10 % of it have changed, but it looks only once a
 * minute (autovacuum_naptime). A new CareBridge database is loaded fast — a hospital's backlog
 * arrives at hundreds of messages a second — so its tables grow from nothing to tens of thousands
 * of rows before that first look, and every plan made meanwhile is made for empty tables: the
 * searches behind alerts and subscription criteria were seen taking 3–12 ms instead of 0.1–0.4
 * until the first ANALYZE, and the cached generic plans of named statements (PostgreSQL plans a
 * prepared statement once it has run five times) can keep a plan for an empty table — a
 * sequential scan, a hash join over a whole table — while the table grows.
 *
 * Every `intervalMs` the keeper analyses the tables of the current schema that changed by at least
 * `minRows` rows and `fraction` of their size since their last analysis; ANALYZE (SKIP_LOCKED,
 * never waiting for another one) also invalidates the cached plans that read the table, so they
 * are made again for its new size. Only young tables (under `maxRows` at their last analysis):
 * a plan made for a hundred thousand rows stays right as the table grows on, autovacuum's pace is
 * enough from there, and analysing a big search table costs seconds (search_token samples 600,000
 * rows for its statistics target of 2,000). On a settled database the keeper finds nothing to do
 * (one catalog query per interval). Tables the role does not own are left alone, and so are those
 * whose autovacuum thresholds a migration tuned: the subscription engine's queues (migration
 * 0010), whose statistics describe a moment — which rows are pending now — and whose claim plans
 * went wrong when they were analysed every few seconds (100 subscriptions each matching every
 * write, 5,000 notifications/s: delivery fell behind, 3,506/s delivered, against 4,995/s left to
 * autovacuum).
 */
import type { Logger } from 'pino';
import type { Pool } from './pool.ts';

export interface StatisticsKeeperOptions {
  pool: Pool;
  logger: Logger;
  /** Between passes. */
  intervalMs?: number;
  /** Changed rows (inserted, updated, deleted) since the last analysis that make a table a candidate… */
  minRows?: number;
  /** …when they are also at least this share of its rows at that analysis (1: it about doubled)… */
  fraction?: number;
  /** …and it had fewer rows than this then (or was never analysed). */
  maxRows?: number;
}

/**
 * The tables to analyse now: changed by ≥ $1 rows and ≥ $2 of their size, under $3 rows when last
 * analysed (reltuples is -1 before the first analysis or vacuum), owned by this role, without
 * tuned autovacuum thresholds.
 */
const STALE_TABLES_SQL = `
  SELECT format('%I.%I', s.schemaname, s.relname) AS name
    FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
   WHERE s.schemaname = current_schema()
     AND s.n_mod_since_analyze >= $1
     AND s.n_mod_since_analyze >= $2 * greatest(c.reltuples, 0)
     AND c.reltuples < $3
     AND pg_has_role(c.relowner, 'USAGE')
     AND NOT EXISTS (SELECT 1 FROM unnest(c.reloptions) AS o WHERE o ~ '^autovacuum_(vacuum|analyze)_')
   ORDER BY s.n_mod_since_analyze DESC`;

export class StatisticsKeeper {
  readonly #pool: Pool;
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #minRows: number;
  readonly #fraction: number;
  readonly #maxRows: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  #warned = false;

  constructor(options: StatisticsKeeperOptions) {
    this.#pool = options.pool;
    this.#logger = options.logger;
    // Every second: the condition lookups cache their plans from a new database's first message
    // (migration 0016), for empty tables until the first analysis. Looking every 5 s, a first load
    // of 2,000 patients ran at 116 messages/s; every second at 138 (one catalog query a second).
    this.#intervalMs = options.intervalMs ?? 1_000;
    this.#minRows = options.minRows ?? 500;
    // Once the table has about doubled: a plan made for N rows is still the plan for 2N (what goes
    // wrong is a plan for none), and each analysis of the fast-growing search tables costs
    // 50–800 ms of CPU while a new database fills — every fifth was seen to slow a first load by 15 %.
    this.#fraction = options.fraction ?? 1;
    this.#maxRows = options.maxRows ?? 100_000;
  }

  start(): void {
    this.#stopped = false;
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** One pass: analyses every table that changed enough; returns their names. */
  async runOnce(): Promise<string[]> {
    const { rows } = await this.#pool.query<{ name: string }>(STALE_TABLES_SQL, [this.#minRows, this.#fraction, this.#maxRows]);
    const analysed: string[] = [];
    for (const { name } of rows) {
      if (this.#stopped) break;
      // The name comes from the catalog, quoted by format('%I'): identifiers cannot be parameters.
      await this.#pool.query(`ANALYZE (SKIP_LOCKED) ${name}`);
      analysed.push(name);
    }
    return analysed;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.#pass().finally(() => {
        this.#running = undefined;
        this.#schedule();
      });
    }, this.#intervalMs);
    this.#timer.unref();
  }

  async #pass(): Promise<void> {
    try {
      const analysed = await this.runOnce();
      if (analysed.length) this.#logger.debug({ analysed }, 'table statistics refreshed');
      this.#warned = false;
    } catch (err) {
      // A database restart or a lost connection: the next pass tries again; say so once.
      if (!this.#warned) this.#logger.warn({ err }, 'refreshing table statistics failed; will retry');
      this.#warned = true;
    }
  }
}
