// Crash safety of HL7 v2 processing (issue 3, "Done when": with messages streaming on several
// connections, kill -9 the server; after a restart every ACKed message is applied exactly once
// and nothing un-ACKed is half-applied). HL7 v2.5.1 chapter 2 §2.9 (message processing rules:
// original mode, the AA is sent only once the message is committed and applied), MLLP Release 1
// §3 (a sender re-sends what was not acknowledged). DESIGN.md decision 7.
//
// The server runs as a child process (`carebridge serve`) on this file's database on the test
// PostgreSQL, so kill -9 takes the server down and leaves the database up. Five raw MLLP
// connections stream original-mode ADT^A01/A08 messages (up to four unacknowledged each) about
// 20 patients; each message has its own visit (PV1-19), so it writes its own Encounter, and its
// own OBX code, so it writes its own Observation. Once 100 AAs have arrived the server is killed
// mid-stream and started again on the same database. Then, after recovery, and again after the
// un-ACKed messages are re-sent, these invariants hold for every message that was written to a
// socket (timings are never asserted):
// - every ACKed message is `processed` and its stored ACK is the one we received;
// - a message has a log row iff its Encounter, its Observation and its Provenance exist, each
//   exactly once (nothing half-applied, nothing applied twice); no row stays `received`;
// - each row was applied by exactly one committed attempt (attempts = 1, Provenance version 1);
// - each Patient exists once, and its version equals the number of its applied messages (every
//   message changes PID-13, so a second application would add a version).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startChildServer } from './helpers/child-server.ts';
import type { ChildServer } from './helpers/child-server.ts';
import { createTestDatabase } from './helpers/database.ts';
import { ack, Client, frame } from './helpers/mllp.ts';

const PATIENTS = 20;
const CONNECTIONS = 5;
const WINDOW = 4;
const BUDGET = 1_000; // more than can be sent before the kill
const KILL_AFTER_ACKS = 100;
const FACILITY = 'CRASHFAC';

let databaseUrl: string;
let httpPort: number;
let mllpPort: number;
let db: pg.Pool;
let server: ChildServer | undefined;

/** The server on this file's database, with fixed ports so the restarted one is reached the same way. */
const startServer = () => startChildServer(databaseUrl, { MLLP_PORT: String(mllpPort), HL7_RECOVERY_INTERVAL_MS: '200' }, httpPort);

async function stopServer(): Promise<void> {
  const s = server;
  server = undefined;
  await s?.stop();
}

interface Sent {
  controlId: string;
  seq: number;
  patient: number;
  text: string;
}

function message(seq: number): Sent {
  const patient = seq % PATIENTS;
  const controlId = `CRASH-${seq}`;
  const trigger = seq < PATIENTS || seq % 2 === 0 ? 'A01' : 'A08';
  const text = [
    `MSH|^~\\&|HIS|${FACILITY}|CB|CB|20240601100000||ADT^${trigger}^ADT_A01|${controlId}|P|2.5`,
    `EVN|${trigger}|20240601100000`,
    // PID-13 differs in every message: each application of a message changes the Patient.
    `PID|1||CP-${patient}^^^${FACILITY}^MR||病人^${patient}||19800101|F|||||${seq}`,
    `PV1|1|I|W1^${patient}^1||||||||||||||||V-${seq}^^^${FACILITY}^VN|||||||||||||||||||||||||20240601090000`,
    `OBX|1|NM|CRASH-${seq}^crash test ${seq}^L||${seq}||||||F`,
  ].join('\r');
  return { controlId, seq, patient, text };
}

/** The FHIR base of the running server. */
const base = () => `http://127.0.0.1:${httpPort}/fhir`;

async function getJson(url: string): Promise<any> {
  const res = await fetch(url, { headers: { accept: 'application/fhir+json' } });
  expect(res.status, url).toBe(200);
  return res.json();
}

/** Every resource a search matches, following `next` links. */
async function searchAll(query: string): Promise<any[]> {
  const out: any[] = [];
  let url: string | undefined = `${base()}/${query}`;
  while (url) {
    const bundle: any = await getJson(url);
    for (const e of bundle.entry ?? []) if (e.search?.mode !== 'outcome') out.push(e.resource);
    url = bundle.link?.find((l: any) => l.relation === 'next')?.url;
  }
  return out;
}

interface Row {
  id: string;
  control_id: string;
  status: string;
  attempts: number;
  ack: Buffer | null;
}

async function logRows(): Promise<Map<string, Row>> {
  const result = await db.query<Row>(`SELECT id::text, control_id, status, attempts, ack FROM hl7_message WHERE sender_facility = $1 ORDER BY id`, [FACILITY]);
  const rows = new Map<string, Row>();
  for (const row of result.rows) {
    expect(rows.has(row.control_id), `two log rows for ${row.control_id}`).toBe(false);
    rows.set(row.control_id, row);
  }
  return rows;
}

async function waitUntilNothingPending(): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM hl7_message WHERE status = 'received'`);
    if (rows[0]?.n === 0) return;
    if (Date.now() > deadline) throw new Error(`${rows[0]?.n} messages still not applied after the restart:\n${server?.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Counts resources by a key (the message's control id), failing on resources of no known message. */
function countBy(resources: any[], key: (r: any) => string | undefined, what: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of resources) {
    const k = key(r);
    expect(k, `${what} ${r.id} belongs to no test message`).toBeDefined();
    counts.set(k!, (counts.get(k!) ?? 0) + 1);
  }
  return counts;
}

/** The invariants of the file header, over every message written to a socket. */
async function checkInvariants(sent: Map<string, Sent>, acked: Map<string, Buffer>): Promise<Map<string, Row>> {
  const rows = await logRows();
  for (const controlId of rows.keys()) expect(sent.has(controlId), `log row for unknown ${controlId}`).toBe(true);

  for (const [controlId, bytes] of acked) {
    const row = rows.get(controlId);
    expect(row?.status, `ACKed ${controlId}`).toBe('processed');
    expect(Buffer.compare(bytes, row!.ack!), `ACK of ${controlId} is the stored one`).toBe(0);
  }
  for (const row of rows.values()) {
    expect([row.control_id, row.status, row.attempts]).toEqual([row.control_id, 'processed', 1]);
  }

  const observations = countBy(await searchAll('Observation?_count=1000'), (o) => o.code?.coding?.[0]?.code, 'Observation');
  const encounters = countBy(
    await searchAll('Encounter?_count=1000'),
    (e) => e.identifier?.find((i: any) => i.value?.startsWith('V-'))?.value.replace('V-', 'CRASH-'),
    'Encounter',
  );
  const provenances = new Map<string, any>();
  for (const p of await searchAll('Provenance?_count=1000')) provenances.set(p.id, p);
  for (const s of sent.values()) {
    const row = rows.get(s.controlId);
    const expected = row ? 1 : 0;
    expect([s.controlId, observations.get(s.controlId) ?? 0, encounters.get(s.controlId) ?? 0]).toEqual([s.controlId, expected, expected]);
    if (row) expect(provenances.get(`hl7-message-${row.id}`)?.meta.versionId, `Provenance of ${s.controlId}`).toBe('1');
  }
  expect(provenances.size).toBe(rows.size);

  const appliedPerPatient = new Map<number, number>();
  for (const s of sent.values()) if (rows.has(s.controlId)) appliedPerPatient.set(s.patient, (appliedPerPatient.get(s.patient) ?? 0) + 1);
  const patients = await searchAll('Patient?_count=1000');
  const byKey = countBy(patients, (p) => p.identifier?.find((i: any) => i.value?.startsWith('CP-'))?.value, 'Patient');
  for (let p = 0; p < PATIENTS; p++) {
    const applied = appliedPerPatient.get(p) ?? 0;
    expect([p, byKey.get(`CP-${p}`) ?? 0]).toEqual([p, applied ? 1 : 0]);
    const patient = patients.find((r) => r.identifier.some((i: any) => i.value === `CP-${p}`));
    if (applied) expect([p, Number(patient.meta.versionId)]).toEqual([p, applied]);
  }
  return rows;
}

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  httpPort = await freePort();
  mllpPort = await freePort();
  while (mllpPort === httpPort) mllpPort = await freePort();
});

afterAll(async () => {
  await stopServer();
  await db?.end();
});

describe('kill -9 while HL7 messages stream in', () => {
  it('every ACKed message is applied exactly once, nothing un-ACKed is half-applied, and re-sending completes the rest', async () => {
    server = await startServer();
    const first = server;
    const sent = new Map<string, Sent>();
    const acked = new Map<string, Buffer>();
    let nextSeq = 0;
    let killed = false;

    // One sender: keeps up to WINDOW messages unacknowledged; stops when the server goes away.
    const stream = async (): Promise<void> => {
      const client = await Client.connect(mllpPort);
      let written = 0;
      try {
        for (;;) {
          while (!killed && !client.closed && written - client.frames.length < WINDOW && nextSeq < BUDGET) {
            const m = message(nextSeq++);
            sent.set(m.controlId, m);
            written++;
            await client.write(frame(m.text)).catch(() => undefined); // a write the dead server never read is fine
          }
          const seen = client.frames.length;
          if (seen >= written && (killed || client.closed || nextSeq >= BUDGET)) return;
          await client.waitFor(seen + 1, 20_000);
          for (const bytes of client.frames.slice(seen)) {
            const reply = ack(bytes).message;
            expect(reply.get('MSA-1'), reply.get('MSA-2')).toBe('AA');
            acked.set(reply.get('MSA-2'), bytes);
          }
          if (!killed && acked.size >= KILL_AFTER_ACKS) {
            killed = true;
            first.child.kill('SIGKILL');
          }
          if (client.closed && client.frames.length === seen) return;
        }
      } finally {
        client.close();
      }
    };
    await Promise.all(Array.from({ length: CONNECTIONS }, stream));
    expect(killed).toBe(true);
    await first.exited;
    expect(first.child.signalCode).toBe('SIGKILL');

    const unacked = [...sent.values()].filter((s) => !acked.has(s.controlId));
    expect(unacked.length).toBeGreaterThan(0); // the kill came mid-stream
    const before = await logRows();
    const stranded = [...before.values()].filter((r) => r.status === 'received').length;

    // Restart on the same database: the recovery worker applies what was stored but not applied.
    server = await startServer();
    await waitUntilNothingPending();
    await checkInvariants(sent, acked);

    // A real sender re-sends everything that was not acknowledged: each gets AA (a stored message
    // its stored ACK, one never stored is stored and applied now), and nothing is applied twice.
    const resend = await Client.connect(mllpPort);
    try {
      for (const m of unacked) await resend.write(frame(m.text));
      const frames = await resend.waitFor(unacked.length, 20_000);
      for (const [i, bytes] of frames.entries()) {
        const reply = ack(bytes).message;
        expect([reply.get('MSA-1'), reply.get('MSA-2')]).toEqual(['AA', unacked[i]!.controlId]);
        acked.set(reply.get('MSA-2'), bytes);
      }
    } finally {
      resend.close();
    }
    const rows = await checkInvariants(sent, acked);
    const summary = `${sent.size} sent, ${sent.size - unacked.length} ACKed before the kill, ${before.size} stored (${stranded} not applied) at the kill`;
    expect(rows.size, summary).toBe(sent.size);
  }, 60_000);
});
