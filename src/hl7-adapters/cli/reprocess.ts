/**
 * `carebridge hl7 reprocess`: asks a running server to apply logged messages again after a
 * mapping, configuration or data fix, through the message log API (admin/routes.ts):
 *
 *   carebridge hl7 reprocess --id 42 [--id 43 …]             one or more messages
 *   carebridge hl7 reprocess --sender HIS --facility XYZRMYY  every failed message of that sender
 *
 * Prints one line per message (`42 → processed` or `42 → failed: reason`). Exit status 0 when all
 * were processed, 1 when any failed or the server refused, 2 for a usage error.
 */
import { parseArgs } from 'node:util';

export const REPROCESS_USAGE = `Usage: carebridge hl7 reprocess [options]

Applies logged HL7 messages again (after a mapping, configuration or data fix) on a running
CareBridge server, through its message log API.

Options:
  --id ID            A message id from the message log (repeatable).
  --sender APP       With --facility: every failed message of this sending application (MSH-3).
  --facility FAC     The sending facility (MSH-4).
  --server URL       The server (default http://localhost:PORT, PORT from the environment or 8080).
  -h, --help         Show this help.

Exit status: 0 when every message was processed, 1 when any failed, 2 for a usage error.`;

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: Record<string, string | undefined>;
}

interface Outcome {
  id: string;
  status: string;
  error?: string | null;
}

/** The JSON answers this command reads: outcomes, the bulk result's ids, or an OperationOutcome. */
interface Reply {
  id?: string;
  status?: string;
  error?: string | null;
  ids?: string[];
  text?: string;
  issue?: Array<{ details?: { text?: string }; diagnostics?: string }>;
}

async function call(url: string, body?: unknown): Promise<{ status: number; json: Reply }> {
  const res = await fetch(url, { method: 'POST', headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: Reply;
  try {
    json = text ? (JSON.parse(text) as Reply) : {};
  } catch {
    json = { text };
  }
  return { status: res.status, json };
}

const reasonOf = (json: Reply): string => json?.issue?.[0]?.details?.text ?? json?.issue?.[0]?.diagnostics ?? JSON.stringify(json);

export async function hl7Reprocess(argv: string[], io: CliIo): Promise<number> {
  let values: { id?: string[]; sender?: string; facility?: string; server?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { id: { type: 'string', multiple: true }, sender: { type: 'string' }, facility: { type: 'string' }, server: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    io.stderr.write(`carebridge hl7 reprocess: ${(err as Error).message}\n\n${REPROCESS_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(`${REPROCESS_USAGE}\n`);
    return 0;
  }
  const ids = values.id ?? [];
  const bySender = values.sender !== undefined || values.facility !== undefined;
  if ((ids.length === 0) === !bySender || (bySender && (values.sender === undefined || values.facility === undefined))) {
    io.stderr.write(`carebridge hl7 reprocess: give --id ID (repeatable), or --sender APP with --facility FAC\n\n${REPROCESS_USAGE}\n`);
    return 2;
  }
  const bad = ids.find((id) => !/^\d{1,18}$/.test(id));
  if (bad !== undefined) {
    io.stderr.write(`carebridge hl7 reprocess: --id must be a message id (a number), got "${bad}"\n`);
    return 2;
  }
  const base = (values.server ?? `http://localhost:${io.env.PORT ?? '8080'}`).replace(/\/+$/, '');
  try {
    new URL(base);
  } catch {
    io.stderr.write(`carebridge hl7 reprocess: --server "${base}" is not a URL\n`);
    return 2;
  }
  const outcomes: Outcome[] = [];
  try {
    if (bySender) {
      const reply = await call(`${base}/admin/hl7/$reprocess`, { senderApplication: values.sender, senderFacility: values.facility });
      if (reply.status !== 200) {
        io.stderr.write(`carebridge hl7 reprocess: the server refused (${reply.status}): ${reasonOf(reply.json)}\n`);
        return 1;
      }
      for (const id of reply.json.ids ?? []) {
        const detail = (await fetch(`${base}/admin/hl7/messages/${id}`).then((r) => r.json())) as Reply;
        outcomes.push({ id, status: detail.status ?? 'unknown', error: detail.error });
      }
      if (!outcomes.length) io.stdout.write(`no failed messages from ${values.sender}/${values.facility}\n`);
    } else {
      for (const id of ids) {
        const reply = await call(`${base}/admin/hl7/messages/${id}/$reprocess`);
        outcomes.push(reply.status === 200 ? { id, status: reply.json.status ?? 'unknown', error: reply.json.error } : { id, status: 'refused', error: reasonOf(reply.json) });
      }
    }
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    io.stderr.write(`carebridge hl7 reprocess: cannot reach ${base}: ${cause?.code ?? cause?.message ?? (err as Error).message}\n`);
    return 1;
  }
  for (const o of outcomes) io.stdout.write(`${o.id} → ${o.status}${o.error ? `: ${o.error}` : ''}\n`);
  return outcomes.every((o) => o.status === 'processed') ? 0 : 1;
}
