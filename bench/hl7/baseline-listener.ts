/**
 * The baseline for the HL7 benchmark: the least any durable MLLP receiver must do — commit the
 * raw message to PostgreSQL (one INSERT, synchronous commit, same database server) and then send
 * an ACK. No parsing, no mapping, no FHIR. CareBridge's figures divided by these say what parsing,
 * mapping to FHIR and the FHIR transaction cost on top of a store-and-forward engine's receive.
 */
import net from 'node:net';
import pg from 'pg';
import { encode, MllpDecoder } from '../../src/hl7-adapters/mllp/codec.ts';

export interface BaselineListener {
  port: number;
  close(): Promise<void>;
}

export async function startBaselineListener(databaseUrl: string, poolSize: number): Promise<BaselineListener> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize });
  await pool.query('CREATE TABLE IF NOT EXISTS hl7_raw (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, raw bytea NOT NULL, received_at timestamptz NOT NULL DEFAULT now())');
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const decoder = new MllpDecoder({ maxMessageBytes: 1 << 20 });
    let chain = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      for (const event of decoder.push(chunk)) {
        if (event.type !== 'message') continue;
        const payload = event.payload;
        chain = chain.then(async () => {
          await pool.query('INSERT INTO hl7_raw (raw) VALUES ($1)', [payload]);
          const controlId = payload.toString('latin1').split('\r')[0]?.split('|')[9] ?? '';
          socket.write(encode(Buffer.from(`MSH|^~\\&|CB|CB|HIS|BENCH|20240322100000||ACK^A03^ACK|B${controlId}|P|2.5\rMSA|AA|${controlId}\r`, 'latin1')));
        }).catch(() => void socket.destroy());
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end();
    },
  };
}
