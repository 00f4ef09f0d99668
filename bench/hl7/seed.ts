/**
 * Discharges are for patients the hospital admitted earlier: one message per patient, over
 * several connections, so later messages update known Patients and open new stays.
 */
import type { AdtA03Generator } from './messages.ts';
import { MllpConnection } from './mllp-connection.ts';

/** Sends `generator.first(n)` for every patient n over `connections` connections; resolves when all are ACKed. */
export async function seedPatients(port: number, generator: AdtA03Generator, patients: number, connections: number): Promise<void> {
  const conns = await Promise.all(Array.from({ length: connections }, () => MllpConnection.open(port)));
  let next = 0;
  try {
    await Promise.all(
      conns.map(async (c) => {
        while (next < patients) await c.send(generator.first(next++));
      }),
    );
  } finally {
    for (const c of conns) c.close();
  }
}
