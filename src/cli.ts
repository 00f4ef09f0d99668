/**
 * The `carebridge` command. `carebridge serve` runs the server until SIGTERM/SIGINT;
 * `carebridge hl7 send FILE...` sends HL7 v2 files to an MLLP listener; `carebridge hl7
 * reprocess` applies logged messages again on a running server.
 */
import { ConfigError, loadConfig } from './config.ts';
import { hl7Reprocess } from './hl7-adapters/cli/reprocess.ts';
import { hl7Send } from './hl7-adapters/cli/send.ts';
import { createLogger, startServer } from './server.ts';

const USAGE = `Usage: carebridge <command>

Commands:
  serve     Run the FHIR server (HTTP on PORT, default 8080; HL7 v2 over MLLP on MLLP_PORT,
            default 2575). Without DATABASE_URL an embedded
            PostgreSQL is started with its data in DATA_DIR (default ./data).
  hl7 send  Send HL7 v2 message files over MLLP and print each ACK
            (carebridge hl7 send --help).
  hl7 reprocess
            Apply logged HL7 messages again on a running server
            (carebridge hl7 reprocess --help).
  help      Show this help.

Configuration is read from the environment; see docs/config.md.`;

async function serve(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config);
  const server = await startServer(config, logger);
  process.stdout.write(`\nCareBridge is running.\n  FHIR R4 API:  ${server.fhirBaseUrl}\n  Metadata:     ${server.fhirBaseUrl}/metadata\n  Health:       ${server.url}/healthz  ${server.url}/readyz\n  Metrics:      ${server.url}/metrics\n  HL7 v2 MLLP:  ${server.mllpUrl}\n\n`);
  let signalled = false;
  const shutdown = (signal: string) => {
    if (signalled) return;
    signalled = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownGraceMs + 15_000);
    force.unref();
    server.stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

const HL7_USAGE = `Usage: carebridge hl7 <command>

Commands:
  send      Send HL7 v2 message files over MLLP and print each ACK
            (carebridge hl7 send --help).
  reprocess Apply logged messages again on a running server
            (carebridge hl7 reprocess --help).`;

async function hl7(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'send':
      return hl7Send(rest, { stdout: process.stdout, stderr: process.stderr, env: process.env });
    case 'reprocess':
      return hl7Reprocess(rest, { stdout: process.stdout, stderr: process.stderr, env: process.env });
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${HL7_USAGE}\n`);
      return 0;
    default:
      process.stderr.write(`carebridge hl7: unknown command "${command}"\n\n${HL7_USAGE}\n`);
      return 2;
  }
}

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  switch (command) {
    case 'serve':
      await serve();
      return -1; // keeps running
    case 'hl7':
      return hl7(argv.slice(1));
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    default:
      process.stderr.write(`carebridge: unknown command "${command}"\n\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`carebridge: ${err instanceof ConfigError ? `configuration error: ${err.message}` : (err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
