// MLLP over TLS with client certificates (mutual TLS): MLLP Release 1 §2 framing carried by
// node:tls; certificates made with openssl for this test (a CA, a server and a client certificate).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestServer } from './helpers/server.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-mllp-tls-'));
const file = (name: string): string => path.join(dir, name);
const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });

openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=CareBridge Test CA', '-keyout', 'ca.key', '-out', 'ca.pem');
for (const name of ['server', 'client']) {
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name === 'server' ? 'localhost' : 'his-client'}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
  fs.writeFileSync(file(`${name}.ext`), name === 'server' ? 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' : 'extendedKeyUsage=clientAuth\n');
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
}

const server = useTestServer({ MLLP_TLS_CERT_FILE: file('server.pem'), MLLP_TLS_KEY_FILE: file('server.key'), MLLP_TLS_CA_FILE: file('ca.pem') });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const MESSAGE = 'MSH|^~\\&|LAB|HOSP|CB|CBF|20240315093000||ADT^A01^ADT_A01|TLS-1|P|2.5\rPID|1||123^^^HOSP^MR||DOE^JOHN\r';

/** Connects, sends one frame, resolves with the first ACK frame's text or the connection error. */
function exchange(withClientCert: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port: server.mllpPort,
      ca: fs.readFileSync(file('ca.pem')),
      servername: 'localhost',
      ...(withClientCert ? { cert: fs.readFileSync(file('client.pem')), key: fs.readFileSync(file('client.key')) } : {}),
    });
    let received = Buffer.alloc(0);
    socket.on('secureConnect', () => socket.write(Buffer.concat([Buffer.from([0x0b]), Buffer.from(MESSAGE), Buffer.from([0x1c, 0x0d])])));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf(Buffer.from([0x1c, 0x0d]));
      if (end >= 0) {
        socket.destroy();
        resolve(received.subarray(1, end).toString('utf8'));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('closed without an ACK')));
  });
}

describe('MLLP over mutual TLS', () => {
  it('acknowledges a message from a client with a certificate signed by MLLP_TLS_CA_FILE', async () => {
    const ack = await exchange(true);
    expect(ack).toMatch(/\rMSA\|AA\|TLS-1$/);
  });

  it('refuses a client without a certificate', async () => {
    await expect(exchange(false)).rejects.toThrow();
  });
});
