/**
 * A/B comparison of two checkouts on the HL7 path, robust to a VM whose speed drifts: both
 * servers run at once (each its own embedded PostgreSQL, seeded alike), and one MLLP connection
 * sends to one, then the other, in alternating windows (the order flipped every window), so
 * both see the same machine. Ingestion alone by default (SUBSCRIPTION_ENGINE=off); with the
 * engine on, a server's follow-up work may spill into the other's window.
 *
 *   node bench/hl7/compare.ts /path/to/checkout-a /path/to/checkout-b
 *
 * Each checkout needs its node_modules (a symlink to this one's will do). Environment:
 * WINDOWS (12), WINDOW_MS (3000), PATIENTS (1000), SUBSCRIPTION_ENGINE (off). Besides messages/s,
 * each server's CPU a message (its Node.js process; its PostgreSQL with background workers) over
 * the whole comparison: steadier than the rate when the VM's speed drifts.
 */
import { AdtA03Generator } from './messages.ts';
import { MllpConnection } from './mllp-connection.ts';
import { seedPatients } from './seed.ts';
import { startServerProcess } from '../lib/server-process.ts';
import type { ServerProcess } from '../lib/server-process.ts';
import { numberEnv } from '../lib/format.ts';
import { cpuPerOperation, sampleCpu } from '../lib/process-cpu.ts';

const roots = process.argv.slice(2);
if (roots.length < 2) {
  console.error('usage: node bench/hl7/compare.ts CHECKOUT_A CHECKOUT_B [...]');
  process.exit(2);
}
const windows = numberEnv(process.env, 'WINDOWS', 12, 1, 1000);
const windowMs = numberEnv(process.env, 'WINDOW_MS', 3000, 100, 600_000);
const patients = numberEnv(process.env, 'PATIENTS', 1000, 1, 1_000_000);
const engine = process.env.SUBSCRIPTION_ENGINE ?? 'off';

const servers: ServerProcess[] = [];
try {
  for (const root of roots) servers.push(await startServerProcess({ repoRoot: root, dbPoolSize: 20, env: { SUBSCRIPTION_ENGINE: engine } }));
  const generators = servers.map(() => new AdtA03Generator({ seed: 1, patients, runId: 'compare' }));
  const connections: MllpConnection[] = [];
  for (const [i, server] of servers.entries()) {
    // Seed every patient, then warm up on the one connection measured.
    await seedPatients(server.mllpPort, generators[i]!, patients, 8);
    const connection = await MllpConnection.open(server.mllpPort);
    for (let k = 0; k < 1500; k++) await connection.send(generators[i]!.next());
    connections.push(connection);
  }
  const totals = servers.map(() => ({ messages: 0, ms: 0 }));
  // CPU from the first window to the last, the idle windows included: a server's background work
  // (autovacuum, checkpoints) is its own wherever it falls.
  const cpuAtStart = servers.map((s) => sampleCpu(s.pid, s.postgresPid));
  for (let w = 0; w < windows; w++) {
    const order = w % 2 ? [...servers.keys()].reverse() : [...servers.keys()];
    const rates: string[] = [];
    for (const i of order) {
      const start = performance.now();
      let n = 0;
      while (performance.now() - start < windowMs) {
        await connections[i]!.send(generators[i]!.next());
        n++;
      }
      const ms = performance.now() - start;
      totals[i]!.messages += n;
      totals[i]!.ms += ms;
      rates[i] = ((n / ms) * 1000).toFixed(1);
    }
    console.log(`window ${w + 1}: ${rates.join('  ')} messages/s`);
  }
  const cpu = servers.map((s, i) => cpuPerOperation(cpuAtStart[i], sampleCpu(s.pid, s.postgresPid), totals[i]!.messages));
  const rate = (i: number) => (totals[i]!.messages / totals[i]!.ms) * 1000;
  for (const [i, root] of roots.entries()) {
    const c = cpu[i];
    const cpuText = c ? `; CPU ms a message: server ${c.serverMs.toFixed(2)} · PostgreSQL ${c.postgresMs.toFixed(2)}` : '';
    console.log(`${root}: ${rate(i).toFixed(1)} messages/s (${(rate(i) / rate(0)).toFixed(3)}× the first)${cpuText}`);
  }
  for (const c of connections) c.close();
} finally {
  for (const s of servers) await s.stop();
}
