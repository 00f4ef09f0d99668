/**
 * The subscriber of the follow-up benchmark: one `node:http` server in the bench process that
 * receives the rest-hook deliveries of the `CarePlan` subscription (classic R4 with a payload:
 * `PUT {endpoint}/CarePlan/{id}` with the resource). Like bench/subscriptions/receiver.ts it
 * timestamps a delivery (performance.now(), the clock the discharges are sent with) as soon as
 * its headers arrive and answers 200 at once. Unlike that receiver it reads the body: the
 * CarePlan's `subject` tells which discharge it belongs to, and `encounter` which stay. The first
 * delivery of each CarePlan counts; later ones (updates, redeliveries) are only counted.
 */
import http from 'node:http';

export interface CarePlanReceipt {
  carePlanId: string;
  /** performance.now() when the delivery's headers arrived. */
  t: number;
  /** `Patient/{id}` and `Encounter/{id}` from the body. */
  subject: string | undefined;
  encounter: string | undefined;
}

export class CarePlanReceiver {
  readonly #server: http.Server;
  readonly #firstById = new Map<string, CarePlanReceipt>();
  readonly #bySubject = new Map<string, CarePlanReceipt>();
  #port = 0;
  /** Every PUT of a CarePlan, first or not. */
  deliveries = 0;
  /** Deliveries of a CarePlan already received (an update of the plan, or an at-least-once repeat). */
  repeats = 0;
  /** Requests that are not a CarePlan PUT under /hook, or whose body could not be read. */
  stray = 0;
  firstStray: string | undefined;

  private constructor() {
    this.#server = http.createServer((req, res) => this.#handle(req, res));
    // The engine keeps connections alive between deliveries: do not close them under it.
    this.#server.keepAliveTimeout = 30_000;
  }

  static async start(): Promise<CarePlanReceiver> {
    const receiver = new CarePlanReceiver();
    await new Promise<void>((resolve, reject) => {
      receiver.#server.once('error', reject);
      receiver.#server.listen(0, '127.0.0.1', () => resolve());
    });
    receiver.#port = (receiver.#server.address() as { port: number }).port;
    return receiver;
  }

  /** The subscription's channel.endpoint. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.#port}/hook`;
  }

  /** The first CarePlan received for `Patient/{id}`. */
  forSubject(subject: string): CarePlanReceipt | undefined {
    return this.#bySubject.get(subject);
  }

  get carePlans(): number {
    return this.#firstById.size;
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const t = performance.now();
    const match = req.method === 'PUT' ? /^\/hook\/CarePlan\/([^/?]+)$/.exec(req.url ?? '') : null;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      res.writeHead(200, { 'content-length': '0' });
      res.end();
      if (!match) return this.#strayRequest(`${req.method} ${req.url}`);
      const id = decodeURIComponent(match[1] as string);
      this.deliveries++;
      if (this.#firstById.has(id)) {
        this.repeats++;
        return;
      }
      let body: { subject?: { reference?: string }; encounter?: { reference?: string } };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
      } catch {
        return this.#strayRequest(`PUT ${req.url}: body is not JSON`);
      }
      const receipt: CarePlanReceipt = { carePlanId: id, t, subject: body.subject?.reference, encounter: body.encounter?.reference };
      this.#firstById.set(id, receipt);
      if (receipt.subject && !this.#bySubject.has(receipt.subject)) this.#bySubject.set(receipt.subject, receipt);
    });
  }

  #strayRequest(what: string): void {
    this.stray++;
    this.firstStray ??= what;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
