/**
 * The R4 classic websocket channel (http://hl7.org/fhir/R4/subscription.html#2.46.7.2): a client
 * connects to the server's websocket URL (advertised in the CapabilityStatement), sends
 * `bind {subscription id}`, gets `bound {id}`, and then `ping {id}` for every notification of that
 * subscription. Notifications stay numbered and pending while no client is bound, and are pinged
 * (in order) once one binds — a dropped connection loses nothing. Only a server process with a
 * bound client delivers a subscription's pings. A bind for an unknown or non-websocket subscription
 * is answered `error {id} {reason}`.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';

export interface WebsocketHubOptions {
  path: string;
  logger: Logger;
  /** Why a subscription cannot be bound (unknown, not active, not a websocket channel), or undefined. */
  bindProblem: (id: string) => string | undefined;
  /** A client bound: its subscription's pending notifications are due now. */
  onBind: (id: string) => void;
}

export class WebsocketHub {
  readonly #o: WebsocketHubOptions;
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  readonly #bound = new Map<string, Set<WebSocket>>();

  constructor(options: WebsocketHubOptions) {
    this.#o = options;
    this.#wss.on('connection', (socket) => this.#accept(socket));
  }

  /** Handles HTTP upgrades on the hub's path (other paths are left to others / closed). */
  attach(server: http.Server): void {
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      if ((req.url ?? '').split('?')[0] !== this.#o.path) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#wss.emit('connection', ws, req));
    });
  }

  /** Whether a client of this process is bound to the subscription. */
  has(id: string): boolean {
    return (this.#bound.get(id)?.size ?? 0) > 0;
  }

  /** Sends `ping {id}` to every bound client; returns how many got it. */
  async ping(id: string): Promise<number> {
    const sockets = [...(this.#bound.get(id) ?? [])].filter((s) => s.readyState === s.OPEN);
    const sent = await Promise.all(sockets.map((s) => new Promise<boolean>((resolve) => s.send(`ping ${id}`, (err) => resolve(!err)))));
    return sent.filter(Boolean).length;
  }

  close(): void {
    for (const sockets of this.#bound.values()) for (const s of sockets) s.close(1001, 'server shutting down');
    this.#wss.close();
  }

  #accept(socket: WebSocket): void {
    const mine = new Set<string>();
    socket.on('message', (data, isBinary) => {
      const text = isBinary ? '' : data.toString('utf8').trim();
      const m = /^bind\s+([A-Za-z0-9\-.]{1,64})$/.exec(text);
      if (!m) {
        socket.send(`error unknown command; send "bind {subscription id}"`);
        return;
      }
      const id = m[1]!;
      const problem = this.#o.bindProblem(id);
      if (problem) {
        socket.send(`error ${id} ${problem}`);
        return;
      }
      let set = this.#bound.get(id);
      if (!set) this.#bound.set(id, (set = new Set()));
      set.add(socket);
      mine.add(id);
      socket.send(`bound ${id}`);
      this.#o.onBind(id);
    });
    socket.on('close', () => {
      for (const id of mine) {
        const set = this.#bound.get(id);
        set?.delete(socket);
        if (set && !set.size) this.#bound.delete(id);
      }
    });
    socket.on('error', (err) => this.#o.logger.debug({ err }, 'subscription websocket error'));
  }
}
