// `carebridge hl7 send` as an operator runs it: the real CLI in its own process against the real
// MLLP listener (MLLP Release 1 §2 block format, §3 one ACK per message; HL7 v2.5.1 §2.9
// acknowledgements, §2.15.8 MSA, §2.15.5 ERR, §2.10.3 batches), over TCP and mutual TLS; exit
// codes 0/1/2; and, against a stand-in listener, resending after a dropped connection and the
// ACK timeout.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildAck } from '../src/hl7-adapters/ack.ts';
import { encode, MllpDecoder } from '../src/hl7-adapters/mllp/codec.ts';
import { parseMessage } from '../src/hl7-adapters/parse/message.ts';
import { useTestServer } from './helpers/server.ts';

const repo = path.resolve(import.meta.dirname, '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-hl7-send-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const temp = (name: string, content: string | Buffer): string => {
  fs.writeFileSync(path.join(dir, name), content);
  return path.join(dir, name);
};

const A01_GB18030 = 'tests/fixtures/hl7/syn_cn_ADT_A01_gb18030.hl7';
const A03_GBK = 'tests/fixtures/hl7/syn_cn_ADT_A03_gbk.hl7';
const fixture = (file: string): Buffer => fs.readFileSync(path.join(repo, file));
const crlf = (bytes: Buffer): Buffer => Buffer.from(bytes.toString('latin1').replaceAll('\r', '\r\n'), 'latin1');
const message = (id: string, type = 'ADT^A08^ADT_A01') => `MSH|^~\\&|SENDTEST|H|CB|C|20240315093000||${type}|${id}|P|2.5\rPID|1||${id}-PAT||DOE^JOHN\r`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node src/cli.ts hl7 send ...args` and collects its output. */
function send(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['src/cli.ts', 'hl7', 'send', ...args], { cwd: repo, env: { ...process.env, MLLP_PORT: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** One ACK line; the processing in progress may answer AA or AE for a supported message. */
const accepted = (file: string, n: number, controlId: string) => new RegExp(`^${file.replace(/[.#]/g, '\\$&')}#${n} MSH-10=${controlId} → (AA|CA|AE(: .*)?)$`);

/** The exit code must agree with the ACKs: 0 only when every one was AA. */
function expectExitMatches(run: Run): void {
  expect(run.code).toBe(run.stdout.includes(' → AE') ? 1 : 0);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

describe('carebridge hl7 send over TCP', () => {
  const server = useTestServer();

  it('sends a GB 18030 file byte for byte and prints its ACK', async () => {
    const run = await send('--host', '127.0.0.1', '--port', String(server.mllpPort), A01_GB18030);
    expect(run.stdout.trimEnd().split('\n')).toEqual([expect.stringMatching(accepted(A01_GB18030, 1, 'HISA0120240315093000001'))]);
    expectExitMatches(run);
  });

  it('sends a file of two messages with CRLF line endings one at a time', async () => {
    const file = temp('two.hl7', Buffer.concat([crlf(fixture(A03_GBK)), crlf(fixture('tests/fixtures/hl7/syn_cn_RDE_O11_utf8.hl7'))]));
    const run = await send('--host', '127.0.0.1', '--port', String(server.mllpPort), file);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(accepted(file, 1, 'HISA0320240315093000001'));
    expect(lines[1]).toMatch(accepted(file, 2, 'HIS20240316100000042'));
    expectExitMatches(run);
  });

  it('sends a batch as one frame and prints the ACK of each message in it', async () => {
    const file = temp('batch.hl7', ['FHS|^~\\&|SENDTEST', 'BHS|^~\\&|SENDTEST', message('BATCH-1'), message('BATCH-2'), 'BTS|2', 'FTS|1'].join('\n').replaceAll('\r', '\n'));
    const run = await send('--host', '127.0.0.1', '--port', String(server.mllpPort), file);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(accepted(file, 1, 'BATCH-1'));
    expect(lines[1]).toMatch(accepted(file, 2, 'BATCH-2'));
  });

  it('prints AR with the reason for an unsupported type, and exits 1', async () => {
    const file = temp('mdm.hl7', message('MDM-1', 'MDM^T02^MDM_T02'));
    const run = await send('--host', '127.0.0.1', '--port', String(server.mllpPort), file, A01_GB18030);
    expect(run.stdout.split('\n')[0]).toBe(`${file}#1 MSH-10=MDM-1 → AR: message type MDM^T02 is not supported (error 200)`);
    expect(run.stdout.split('\n')[1]).toMatch(accepted(A01_GB18030, 1, 'HISA0120240315093000001'));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^carebridge hl7 send: [12] of 2 messages not accepted\n$/);
  });

  it('--quiet prints no ACK lines', async () => {
    const run = await send('--quiet', '--host', '127.0.0.1', '--port', String(server.mllpPort), A01_GB18030);
    expect(run.stdout).toBe('');
    expectExitMatches({ ...run, stdout: run.stderr.includes('not accepted') ? ' → AE' : '' });
  });
});

describe('carebridge hl7 send: failures', () => {
  it('exits 1 with one clear line when the connection is refused', async () => {
    const port = await freePort();
    const run = await send('--port', String(port), A01_GB18030);
    expect(run).toEqual({ code: 1, stdout: '', stderr: `carebridge hl7 send: cannot connect to localhost:${port}: ECONNREFUSED\n` });
  });

  it.each([
    [[], 'no files to send'],
    [['--bogus', A01_GB18030], "unknown option '--bogus'"],
    [['--port', 'x', A01_GB18030], '--port must be a port number from 1 to 65535, got "x"'],
    [[A01_GB18030, 'missing.hl7'], 'cannot read missing.hl7: no such file or directory (ENOENT)'],
  ])('exits 2 for the usage error %j', async (args, message) => {
    const run = await send(...args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`carebridge hl7 send: ${message}\nRun "carebridge hl7 send --help" for usage.\n`);
  });

  it('--help prints the usage and exits 0', async () => {
    const run = await send('--help');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: carebridge hl7 send [options] FILE...');
  });
});

/** A stand-in MLLP listener: `answer` decides, per frame, to ACK, drop the connection or stay silent. */
async function standIn(answer: (connection: number) => 'ack' | 'drop' | 'silent') {
  let connections = 0;
  const server = net.createServer((socket) => {
    const connection = ++connections;
    const decoder = new MllpDecoder();
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      for (const event of decoder.push(chunk)) {
        if (event.type !== 'message') continue;
        const what = answer(connection);
        if (what === 'drop') socket.destroy();
        if (what === 'ack') socket.write(encode(Buffer.from(buildAck({ msh: parseMessage(event.payload.toString('latin1')).msh, code: 'AA' }))));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('carebridge hl7 send: dropped connections and timeouts', () => {
  it('resends once on a new connection when the server closes before the ACK', async () => {
    const listener = await standIn((connection) => (connection === 1 ? 'drop' : 'ack'));
    const file = temp('resend.hl7', message('RESEND-1') + message('RESEND-2'));
    const run = await send('--host', '127.0.0.1', '--port', String(listener.port), file);
    expect(run.stdout).toBe(`${file}#1 MSH-10=RESEND-1 → AA\n${file}#2 MSH-10=RESEND-2 → AA\n`);
    expect(run.code).toBe(0);
    expect(listener.connections()).toBe(2);
    await listener.close();
  });

  it('fails the message when the second connection is closed too, and goes on with the next', async () => {
    let frames = 0;
    const listener = await standIn(() => (++frames <= 2 ? 'drop' : 'ack'));
    const file = temp('dropped.hl7', message('DROP-1') + message('DROP-2'));
    const run = await send('--host', '127.0.0.1', '--port', String(listener.port), file);
    expect(run.stdout).toBe(`${file}#1 MSH-10=DROP-1 → no ACK: connection closed before the acknowledgement (the server closed the connection)\n${file}#2 MSH-10=DROP-2 → AA\n`);
    expect(run.code).toBe(1);
    await listener.close();
  });

  it('fails a message without an ACK after --timeout, and sends the next on a new connection', async () => {
    let frames = 0;
    const listener = await standIn(() => (++frames === 1 ? 'silent' : 'ack'));
    const file = temp('silent.hl7', message('SILENT-1') + message('SILENT-2'));
    const run = await send('--timeout', '300', '--host', '127.0.0.1', '--port', String(listener.port), file);
    expect(run.stdout).toBe(`${file}#1 MSH-10=SILENT-1 → no ACK: no acknowledgement within 300 ms\n${file}#2 MSH-10=SILENT-2 → AA\n`);
    expect(run.code).toBe(1);
    expect(listener.connections()).toBe(2);
    await listener.close();
  });
});

describe('carebridge hl7 send over mutual TLS', () => {
  // Certificates as in hl7-mllp-tls.test.ts: a CA, a server and a client certificate.
  const file = (name: string): string => path.join(dir, name);
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=CareBridge Test CA', '-keyout', 'ca.key', '-out', 'ca.pem');
  for (const name of ['server', 'client']) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name === 'server' ? 'localhost' : 'his-client'}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    fs.writeFileSync(file(`${name}.ext`), name === 'server' ? 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' : 'extendedKeyUsage=clientAuth\n');
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
  }
  const server = useTestServer({ MLLP_TLS_CERT_FILE: file('server.pem'), MLLP_TLS_KEY_FILE: file('server.key'), MLLP_TLS_CA_FILE: file('ca.pem') });
  const tlsArgs = () => ['--host', '127.0.0.1', '--port', String(server.mllpPort), '--tls'];
  const clientCert = () => ['--cert', file('client.pem'), '--key', file('client.key')];

  it('sends with a client certificate, trusting the server through --ca', async () => {
    const run = await send(...tlsArgs(), '--ca', file('ca.pem'), ...clientCert(), A01_GB18030);
    expect(run.stdout.trimEnd()).toMatch(accepted(A01_GB18030, 1, 'HISA0120240315093000001'));
    expectExitMatches(run);
  });

  it('refuses a server certificate it cannot verify, unless --insecure', async () => {
    const unverified = await send(...tlsArgs(), ...clientCert(), A01_GB18030);
    expect(unverified.code).toBe(1);
    expect(unverified.stderr).toMatch(new RegExp(`^carebridge hl7 send: cannot connect to 127\\.0\\.0\\.1:${server.mllpPort}: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)`));
    const insecure = await send(...tlsArgs(), '--insecure', ...clientCert(), A01_GB18030);
    expect(insecure.stdout.trimEnd()).toMatch(accepted(A01_GB18030, 1, 'HISA0120240315093000001'));
  });

  it('gets no ACK without a client certificate (exit 1, no stack trace)', async () => {
    const run = await send(...tlsArgs(), '--ca', file('ca.pem'), A01_GB18030);
    expect(run.code).toBe(1);
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/\n\s+at /);
    // TLS 1.3 completes the client's handshake before the server asks for a certificate, so the
    // refusal arrives as an alert instead of the ACK (with TLS 1.2 the connection itself fails).
    expect(`${run.stdout}${run.stderr}`).toMatch(
      /(MSH-10=HISA0120240315093000001 → no ACK: connection closed before the acknowledgement \(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\)|cannot connect to .*: \S+)\n/,
    );
  });
});
