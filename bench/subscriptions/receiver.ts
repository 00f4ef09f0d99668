/**
 * The subscribers: one real `node:http` server in the bench process standing in for every
 * rest-hook endpoint. Each scenario opens a session (a path tag), so its subscriptions deliver to
 * `/hook/{tag}/{n}` and a late delivery from an earlier scenario is never counted. A delivery is
 * timestamped (performance.now(), the same clock the writers use) as soon as its request line and
 * headers arrive, then drained and answered 200 with an empty body — the fastest a subscriber can
 * be, so what is measured is the engine, not the endpoint.
 */
import http from 'node:http';

/** One delivery: subscription number in the set, Observation id from the PUT url, receipt time (ms, performance.now()). */
export interface Receipt {
  sub: number;
  id: string;
  t: number;
}

export class HookReceiver {
  readonly #server: http.Server;
  readonly #sessions = new Map<string, Receipt[]>();
  /** Requests for no open session or an unexpected path. */
  stray = 0;
  #port = 0;

  private constructor() {
    this.#server = http.createServer((req, res) => this.handle(req, res));
    // The engine keeps connections alive between deliveries: do not close them under it.
    this.#server.keepAliveTimeout = 30_000;
  }

  static async start(): Promise<HookReceiver> {
    const receiver = new HookReceiver();
    const server = receiver.#server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    receiver.#port = (server.address() as { port: number }).port;
    return receiver;
  }

  get port(): number {
    return this.#port;
  }

  /** Starts a session; its subscriptions' endpoint is `{hookBase(tag)}/{n}`. */
  open(tag: string): string {
    this.#sessions.set(tag, []);
    return `http://127.0.0.1:${this.port}/hook/${tag}`;
  }

  receipts(tag: string): readonly Receipt[] {
    return this.#sessions.get(tag) ?? [];
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const t = performance.now();
    // /hook/{tag}/{n}/Observation/{id}
    const parts = (req.url ?? '').split('/');
    const receipts = parts[1] === 'hook' ? this.#sessions.get(parts[2] ?? '') : undefined;
    if (receipts && parts[4] === 'Observation' && parts[5] && req.method === 'PUT') receipts.push({ sub: Number(parts[3]), id: decodeURIComponent(parts[5]), t });
    else this.stray++;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-length': '0' });
      res.end();
    });
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
