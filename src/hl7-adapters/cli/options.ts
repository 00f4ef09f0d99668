/**
 * Command-line options of `carebridge hl7 send`, parsed and checked before anything is read or
 * sent, so a usage mistake (exit code 2) never leaves half the files sent.
 */
import { parseArgs } from 'node:util';

export const SEND_USAGE = `Usage: carebridge hl7 send [options] FILE...

Sends each HL7 v2 message in the files over MLLP, one at a time, waits for its acknowledgement
and prints it: "FILE#N MSH-10=ID → CODE" (with the reason for AE/AR/CE/CR). A file may hold one
message, several back to back, or an HL7 batch (FHS/BHS…BTS/FTS, sent whole as one frame). The
bytes are sent as they are (GBK, GB18030, UTF-8…); only line endings become CR.

Options:
  --host HOST      Server (default localhost).
  --port PORT      MLLP port (default MLLP_PORT, else 2575).
  --tls            Use MLLP over TLS.
  --ca FILE        Trust this CA certificate (PEM) for the server's certificate.
  --cert FILE      Client certificate (PEM) for mutual TLS; needs --key.
  --key FILE       The client certificate's private key (PEM).
  --insecure       Do not verify the server's certificate.
  --timeout MS     How long to wait for each acknowledgement (default 30000).
  --quiet          Do not print the acknowledgements.
  -h, --help       Show this help.

Exit status: 0 when every message was accepted (AA/CA), 1 when any was not or got no
acknowledgement, 2 for a usage error.`;

export interface SendOptions {
  host: string;
  port: number;
  tls: { ca?: string; cert?: string; key?: string; insecure: boolean } | undefined;
  timeoutMs: number;
  quiet: boolean;
  files: string[];
}

export type ParsedSendArgs = { kind: 'help' } | { kind: 'usage-error'; message: string } | { kind: 'run'; options: SendOptions };

/** A whole number in [min, max], or undefined. */
function integer(text: string, min: number, max: number): number | undefined {
  if (!/^\d+$/.test(text.trim())) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}

export function parseSendArgs(args: string[], env: Record<string, string | undefined>): ParsedSendArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        tls: { type: 'boolean' },
        ca: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        insecure: { type: 'boolean' },
        timeout: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    // node:util's message goes on about `--`; its first sentence is the useful part.
    const message = (error as Error).message.split(/\.\s/)[0] ?? '';
    return { kind: 'usage-error', message: message.charAt(0).toLowerCase() + message.slice(1) };
  }
  const v = parsed.values;
  if (v.help) return { kind: 'help' };
  const fail = (message: string): ParsedSendArgs => ({ kind: 'usage-error', message });

  const portText = v.port ?? env.MLLP_PORT?.trim() ?? '';
  const port = portText === '' ? 2575 : integer(portText, 1, 65535);
  if (port === undefined) return fail(`${v.port === undefined ? 'MLLP_PORT' : '--port'} must be a port number from 1 to 65535, got "${portText}"`);
  const timeoutMs = v.timeout === undefined ? 30_000 : integer(v.timeout, 1, 86_400_000);
  if (timeoutMs === undefined) return fail(`--timeout must be a number of milliseconds from 1 to 86400000, got "${v.timeout}"`);
  const host = v.host?.trim() ?? 'localhost';
  if (host === '') return fail('--host must not be empty');

  const tlsOnly = (['ca', 'cert', 'key', 'insecure'] as const).filter((name) => v[name] !== undefined);
  if (!v.tls && tlsOnly.length > 0) return fail(`--${tlsOnly[0]} needs --tls`);
  if ((v.cert === undefined) !== (v.key === undefined)) return fail('--cert and --key go together (mutual TLS)');
  if (parsed.positionals.length === 0) return fail('no files to send');

  return {
    kind: 'run',
    options: {
      host,
      port,
      tls: v.tls ? { ca: v.ca, cert: v.cert, key: v.key, insecure: v.insecure ?? false } : undefined,
      timeoutMs,
      quiet: v.quiet ?? false,
      files: parsed.positionals,
    },
  };
}
