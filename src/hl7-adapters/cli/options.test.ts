// `carebridge hl7 send` options: defaults (localhost, MLLP_PORT else 2575, 30 s), TLS flags, and
// usage errors reported before anything is sent; plus the stderr progress bar.
import { describe, expect, it } from 'vitest';
import { parseSendArgs } from './options.ts';
import { ProgressBar, renderProgress } from './progress.ts';

describe('parseSendArgs', () => {
  it('defaults to localhost:2575 without TLS, 30 s per ACK', () => {
    expect(parseSendArgs(['a.hl7', 'b.hl7'], {})).toEqual({
      kind: 'run',
      options: { host: 'localhost', port: 2575, tls: undefined, timeoutMs: 30_000, quiet: false, files: ['a.hl7', 'b.hl7'] },
    });
  });

  it('takes the port from MLLP_PORT unless --port is given', () => {
    const port = (args: string[], env: Record<string, string>) => {
      const parsed = parseSendArgs([...args, 'a.hl7'], env);
      return parsed.kind === 'run' ? parsed.options.port : parsed;
    };
    expect(port([], { MLLP_PORT: '3000' })).toBe(3000);
    expect(port(['--port', '4000'], { MLLP_PORT: '3000' })).toBe(4000);
    expect(port(['--port=4001'], {})).toBe(4001);
  });

  it('reads the TLS options', () => {
    const parsed = parseSendArgs(['--tls', '--ca', 'ca.pem', '--cert', 'c.pem', '--key', 'c.key', '--insecure', '--host', 'his', '--timeout', '500', '--quiet', 'a.hl7'], {});
    expect(parsed).toEqual({
      kind: 'run',
      options: { host: 'his', port: 2575, tls: { ca: 'ca.pem', cert: 'c.pem', key: 'c.key', insecure: true }, timeoutMs: 500, quiet: true, files: ['a.hl7'] },
    });
  });

  it('answers --help and -h', () => {
    expect(parseSendArgs(['--help'], {})).toEqual({ kind: 'help' });
    expect(parseSendArgs(['a.hl7', '-h'], {})).toEqual({ kind: 'help' });
  });

  it.each([
    [[], {}, 'no files to send'],
    [['--frobnicate', 'a.hl7'], {}, "unknown option '--frobnicate'"],
    [['--port'], {}, "option '--port <value>' argument missing"],
    [['--port', '0', 'a.hl7'], {}, '--port must be a port number from 1 to 65535, got "0"'],
    [['a.hl7'], { MLLP_PORT: 'x' }, 'MLLP_PORT must be a port number from 1 to 65535, got "x"'],
    [['--timeout', 'soon', 'a.hl7'], {}, '--timeout must be a number of milliseconds from 1 to 86400000, got "soon"'],
    [['--ca', 'ca.pem', 'a.hl7'], {}, '--ca needs --tls'],
    [['--insecure', 'a.hl7'], {}, '--insecure needs --tls'],
    [['--tls', '--cert', 'c.pem', 'a.hl7'], {}, '--cert and --key go together (mutual TLS)'],
    [['--host', '', 'a.hl7'], {}, '--host must not be empty'],
  ])('refuses %j %j', (args, env, message) => {
    expect(parseSendArgs(args, env)).toEqual({ kind: 'usage-error', message });
  });
});

describe('ProgressBar', () => {
  it('draws [###...] done/total', () => {
    expect(renderProgress(0, 4, 8)).toBe('[........] 0/4');
    expect(renderProgress(3, 4, 8)).toBe('[######..] 3/4');
    expect(renderProgress(4, 4, 8)).toBe('[########] 4/4');
  });

  it('writes only to a terminal, and clears itself around printed lines', () => {
    const written: string[] = [];
    const pipe = new ProgressBar({ write: (t: string) => written.push(t) }, 2);
    pipe.advance();
    pipe.around(() => written.push('line'));
    pipe.finish();
    expect(written).toEqual(['line']);

    const tty: string[] = [];
    const bar = new ProgressBar({ isTTY: true, write: (t: string) => tty.push(t) }, 2);
    bar.around(() => tty.push('line\n'));
    bar.advance();
    bar.finish();
    expect(tty.join('')).toBe(`\r${renderProgress(0, 2)}\r\x1b[2Kline\n\r${renderProgress(0, 2)}\r${renderProgress(1, 2)}\r\x1b[2K`);
  });
});
