/**
 * Captures the SQL the server runs for each query and EXPLAINs it.
 *
 * How: the server is (re)started with LOG_LEVEL=debug, at which it forwards its embedded
 * PostgreSQL's stderr to its JSON log (component "embedded-postgres"). We set
 * `log_min_duration_statement = 0` (ALTER SYSTEM + pg_reload_conf, reset afterwards), so
 * PostgreSQL logs every statement with its bind parameters, send each query once over HTTP
 * between two marker statements of our own session, and read back the `execute` statements the
 * server's sessions ran between the markers. Each captured SELECT is then run again as
 * `EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT)` with the same parameters, sent untyped exactly as the
 * server's driver sends them, so PostgreSQL plans it the same way (custom plan, same values).
 * A `Seq Scan` on fhir_resource or a search_* table in the plan of a selective query is flagged,
 * and so is any scan of them that reads more than 50,000 rows (a full index walk is no better).
 * Statements the server's background pollers (reindex jobs, custom SearchParameter changes) run
 * on their own timers are told apart by first watching an idle window longer than their periods.
 */
import pg from 'pg';
import { HttpClient } from '../lib/http-client.ts';

export interface CapturedStatement {
  sql: string;
  params: Array<string | null>;
  /** Duration PostgreSQL logged for the server's own execution. */
  loggedMs: number;
}

export interface ExplainedStatement extends CapturedStatement {
  plan: string;
  /** "Execution Time" of the EXPLAIN ANALYZE run. */
  executionMs: number | undefined;
  seqScans: string[];
  /** Scans of fhir_resource/search_* that read more than LARGE_SCAN_ROWS rows (returned + removed by filter, all loops). */
  largeScans: string[];
  error?: string;
}

export interface QueryPlans {
  id: string;
  path: string;
  httpStatus: number;
  /** The request's own SELECTs, explained. */
  statements: ExplainedStatement[];
  /** Statements of the server's background pollers that ran meanwhile (also seen while idle): not explained. */
  background: CapturedStatement[];
  /** Seq Scans and scans reading > LARGE_SCAN_ROWS rows of the big tables in a selective query's plans. */
  flagged: string[];
}

const ENTRY_START = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? \S+) \[(\d+)\] ([A-Z]+):  ?(.*)$/;
const MARKER = 'carebridge-bench-marker';

interface LogEntry {
  pid: number;
  level: string;
  text: string;
}

/** Collects PostgreSQL's log text from the server's JSON log lines. */
export class PostgresLogCollector {
  private readonly chunks: string[] = [];

  onLine = (line: string): void => {
    if (!line.startsWith('{')) return;
    try {
      const record = JSON.parse(line) as { component?: string; msg?: string };
      if (record.component === 'embedded-postgres' && typeof record.msg === 'string') this.chunks.push(record.msg);
    } catch {
      // not a log record
    }
  };

  text(): string {
    return this.chunks.join('\n');
  }

  has(fragment: string): boolean {
    return this.chunks.some((c) => c.includes(fragment));
  }

  entries(): LogEntry[] {
    const out: LogEntry[] = [];
    for (const line of this.text().split('\n')) {
      const m = ENTRY_START.exec(line);
      if (m) out.push({ pid: Number(m[2]), level: m[3] as string, text: m[4] as string });
      else if (out.length) (out[out.length - 1] as LogEntry).text += `\n${line.startsWith('\t') ? line.slice(1) : line}`;
    }
    return out;
  }
}

/** `$1 = 'a', $2 = NULL, …` → ['a', null, …]. */
export function parseParameters(detail: string): Array<string | null> {
  const params: Array<string | null> = [];
  const re = /\$(\d+) = (NULL|'((?:[^']|'')*)')/g;
  for (let m = re.exec(detail); m; m = re.exec(detail)) params[Number(m[1]) - 1] = m[2] === 'NULL' ? null : (m[3] as string).replaceAll("''", "'");
  return params;
}

/** The `execute` statements logged between the begin and end markers of `id`, except those of session `ownPid`. */
export function statementsBetween(entries: readonly LogEntry[], id: string, ownPid: number): CapturedStatement[] {
  const begin = entries.findIndex((e) => e.text.includes(`${MARKER}:begin:${id}'`));
  const end = entries.findIndex((e, i) => i > begin && e.text.includes(`${MARKER}:end:${id}'`));
  if (begin < 0 || end < 0) return [];
  const out: CapturedStatement[] = [];
  for (let i = begin + 1; i < end; i++) {
    const e = entries[i] as LogEntry;
    if (e.pid === ownPid || e.level !== 'LOG') continue;
    const m = /^duration: ([\d.]+) ms {2}(?:execute [^:]*|statement): ([\s\S]*)$/.exec(e.text);
    if (!m) continue;
    // Its parameters are on the DETAIL entry of the same session that follows.
    let params: Array<string | null> = [];
    for (let j = i + 1; j < end; j++) {
      const d = entries[j] as LogEntry;
      if (d.pid !== e.pid) continue;
      if (d.level === 'DETAIL' && d.text.startsWith('Parameters:')) params = parseParameters(d.text);
      break;
    }
    out.push({ sql: (m[2] as string).trim(), params, loggedMs: Number(m[1]) });
  }
  return out;
}

const LARGE_TABLE_SEQ_SCAN = /(?:Parallel )?Seq Scan on (fhir_resource\w*|search_\w+)/g;
/** A selective query should not read this many index or table rows. */
export const LARGE_SCAN_ROWS = 50_000;
const SCAN_NODE = /((?:Parallel )?(?:Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan)(?: Backward)?(?: using (\S+))? on (fhir_resource\w*|search_\w+))\b.*?actual time=[\d.]+\.\.[\d.]+ rows=(\d+) loops=(\d+)/;

/** Seq Scans and large scans of one statement, each scan listed once. */
export function scanNotes(s: Pick<ExplainedStatement, 'seqScans' | 'largeScans'>): string[] {
  return [...s.largeScans, ...s.seqScans.filter((seq) => !s.largeScans.some((l) => l.startsWith(seq)))];
}

/** Scan nodes on the big tables that read more than LARGE_SCAN_ROWS rows, as "Index Scan using x on t: N rows". */
export function largeScans(plan: string): string[] {
  const out: string[] = [];
  let current: { label: string; rows: number; loops: number } | undefined;
  const close = () => {
    if (current && current.rows > LARGE_SCAN_ROWS) out.push(`${current.label}: ${current.rows.toLocaleString('en-US')} rows read`);
    current = undefined;
  };
  for (const line of plan.split('\n')) {
    const node = SCAN_NODE.exec(line);
    if (node) {
      close();
      const loops = Number(node[5]);
      current = { label: node[1] as string, rows: Number(node[4]) * loops, loops };
      continue;
    }
    if (line.includes('->')) close();
    const removed = /Rows Removed by (?:Filter|Index Recheck): (\d+)/.exec(line);
    if (removed && current) current.rows += Number(removed[1]) * current.loops;
  }
  close();
  return out;
}

export async function explainStatement(db: pg.Client, s: CapturedStatement): Promise<ExplainedStatement> {
  try {
    const { rows } = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) ${s.sql}`, s.params);
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    const exec = /Execution Time: ([\d.]+) ms/.exec(plan);
    return { ...s, plan, executionMs: exec ? Number(exec[1]) : undefined, seqScans: [...plan.matchAll(LARGE_TABLE_SEQ_SCAN)].map((m) => m[0]), largeScans: largeScans(plan) };
  } catch (err) {
    return { ...s, plan: '', executionMs: undefined, seqScans: [], largeScans: [], error: (err as Error).message };
  }
}

export interface ExplainTarget {
  id: string;
  selective: boolean;
  path: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Longer than the server's background polling periods (2 s reindex jobs, 5 s SearchParameters). */
const IDLE_WINDOW_MS = 6_500;
const normalizeSql = (sql: string) => sql.replace(/\s+/g, ' ').trim();

/**
 * Runs each query once over HTTP with statement logging on, then EXPLAINs what was captured.
 * `db` is a session as the server's database user on the server's PostgreSQL (started at debug level).
 */
export async function capturePlans(fhirBaseUrl: string, db: pg.Client, collector: PostgresLogCollector, targets: readonly ExplainTarget[], log: (m: string) => void): Promise<QueryPlans[]> {
  const ownPid = (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? -1;
  const http = new HttpClient(fhirBaseUrl, 1);
  const basePath = new URL(fhirBaseUrl).pathname;
  const statuses = new Map<string, number>();
  await db.query('ALTER SYSTEM SET log_min_duration_statement = 0');
  await db.query('SELECT pg_reload_conf()');
  try {
    await sleep(500); // sessions re-read the configuration before their next command
    await db.query(`SELECT '${MARKER}:begin:idle'`);
    await sleep(IDLE_WINDOW_MS);
    await db.query(`SELECT '${MARKER}:end:idle'`);
    for (const t of targets) {
      await db.query(`SELECT '${MARKER}:begin:${t.id}'`);
      const reply = await http.request('GET', `${basePath}/${t.path}`, undefined, { prefer: 'handling=strict' });
      statuses.set(t.id, reply.status);
      await db.query(`SELECT '${MARKER}:end:${t.id}'`);
    }
    await db.query(`SELECT '${MARKER}:done'`);
    for (let i = 0; i < 100 && !collector.has(`${MARKER}:done`); i++) await sleep(100);
  } finally {
    http.close();
    await db.query('ALTER SYSTEM RESET log_min_duration_statement');
    await db.query('SELECT pg_reload_conf()');
  }
  if (!collector.has(`${MARKER}:done`)) log('EXPLAIN: PostgreSQL statement log not seen in the server output (is it forwarded at LOG_LEVEL=debug?)');

  const entries = collector.entries();
  const idle = new Set(statementsBetween(entries, 'idle', ownPid).map((s) => normalizeSql(s.sql)));
  const out: QueryPlans[] = [];
  for (const t of targets) {
    const captured = statementsBetween(entries, t.id, ownPid).filter((s) => /^\s*(select|with)\b/i.test(s.sql));
    const background = captured.filter((s) => idle.has(normalizeSql(s.sql)));
    const statements: ExplainedStatement[] = [];
    for (const s of captured) if (!background.includes(s)) statements.push(await explainStatement(db, s));
    const flagged = t.selective ? [...new Set(statements.flatMap(scanNotes))] : [];
    out.push({ id: t.id, path: t.path, httpStatus: statuses.get(t.id) ?? 0, statements, background, flagged });
    log(`EXPLAIN q${t.id}: ${statements.length} statement(s)${flagged.length ? `, FLAGGED ${flagged.join(', ')}` : ''}`);
  }
  return out;
}
