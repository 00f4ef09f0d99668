/**
 * The R4 classic websocket channel (http://hl7.org/fhir/R4/subscription.html#2.46.7.2): a client
 * connects to the server's websocket URL (advertised in the CapabilityStatement), sends
 * `bind {subscription id}`, gets `bound {id}`, and then `ping {id}` for every notification of that
 * subscription. Notifications stay numbered and pending while no client is bound, and are pinged
 * (in order) once one binds — a dropped connection loses nothing. Only a server process with a
 * bound client delivers a subscription's pings. A bind for an unknown or non-websocket subscription
 * is answered `error {id} {reason}`.
 *
 * Topic-based subscriptions (R5 Backport IG) bind with a token from `$get-ws-binding-token`:
 * `bind-with-token {token}`; the server answers with a handshake Bundle per subscription the token
 * covers, then sends notification Bundles (and heartbeats) as JSON text messages.
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
  bindProblem: (id: string, byToken: boolean) => string | undefined;
  /** A client bound: its subscription's pending notifications are due now. */
  onBind: (id: string) => void;
  /** The subscriptions a binding token covers, or why it cannot be used. */
  resolveToken: (token: string) => Promise<{ ids: string[] } | { problem: string }>;
  /** The first message a client bound by token gets for a subscription (its handshake Bundle). */
  welcome: (id: string) => Promise<string>;
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
  ping(id: string): Promise<number> {
    return this.send(id, `ping ${id}`);
  }

  /** Sends a text message to every client bound to the subscription; returns how many got it. */
  async send(id: string, text: string): Promise<number> {
    const sockets = [...(this.#bound.get(id) ?? [])].filter((s) => s.readyState === s.OPEN);
    const sent = await Promise.all(sockets.map((s) => sendTo(s, text)));
    return sent.filter(Boolean).length;
  }

  close(): void {
    for (const sockets of this.#bound.values()) for (const s of sockets) s.close(1001, 'server shutting down');
    this.#wss.close();
  }

  #accept(socket: WebSocket): void {
    const mine = new Set<string>();
    const bind = (id: string) => {
      let set = this.#bound.get(id);
      if (!set) this.#bound.set(id, (set = new Set()));
      set.add(socket);
      mine.add(id);
    };
    socket.on('message', (data, isBinary) => {
      const text = isBinary ? '' : data.toString('utf8').trim();
      const withToken = /^bind-with-token\s+([A-Za-z0-9_-]{16,128})$/.exec(text);
      if (withToken) {
        void this.#bindWithToken(socket, withToken[1]!, bind);
        return;
      }
      const m = /^bind\s+([A-Za-z0-9\-.]{1,64})$/.exec(text);
      if (!m) {
        socket.send('error unknown command; send "bind {subscription id}" or "bind-with-token {token}"');
        return;
      }
      const id = m[1]!;
      const problem = this.#o.bindProblem(id, false);
      if (problem) {
        socket.send(`error ${id} ${problem}`);
        return;
      }
      bind(id);
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

  /** bind-with-token: every subscription the token covers gets its handshake, then notifications. */
  async #bindWithToken(socket: WebSocket, token: string, bind: (id: string) => void): Promise<void> {
    try {
      const resolved = await this.#o.resolveToken(token);
      if ('problem' in resolved) {
        socket.send(`error ${resolved.problem}`);
        return;
      }
      for (const id of resolved.ids) {
        const problem = this.#o.bindProblem(id, true);
        if (problem) {
          socket.send(`error ${id} ${problem}`);
          continue;
        }
        // The handshake goes first; the subscription's pending notifications follow it.
        await sendTo(socket, await this.#o.welcome(id));
        bind(id);
        this.#o.onBind(id);
      }
    } catch (err) {
      this.#o.logger.warn({ err }, 'websocket bind-with-token failed');
      socket.send('error the binding could not be completed; try again');
    }
  }
}

function sendTo(socket: WebSocket, text: string): Promise<boolean> {
  if (socket.readyState !== socket.OPEN) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => socket.send(text, (err) => resolve(!err)));
}
