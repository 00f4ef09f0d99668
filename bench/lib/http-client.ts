/**
 * Minimal HTTP/1.1 client for the load generator: node:http with a keep-alive Agent whose
 * maxSockets equals the number of closed-loop clients, so each client reuses one connection and
 * connection set-up is not part of what is measured. Bodies are sent with Content-Length (no
 * chunking) and responses are read to the end before an operation counts as done.
 */
import http from 'node:http';

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export class HttpClient {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(baseUrl: string, maxSockets: number) {
    const url = new URL(baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port || 80);
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  request(method: string, path: string, body?: string | Buffer, headers: http.OutgoingHttpHeaders = {}): Promise<HttpReply> {
    return new Promise((resolve, reject) => {
      const allHeaders: http.OutgoingHttpHeaders = { accept: 'application/fhir+json', ...headers };
      if (body !== undefined) {
        allHeaders['content-type'] ??= 'application/fhir+json';
        allHeaders['content-length'] = Buffer.byteLength(body);
      }
      const req = http.request({ host: this.host, port: this.port, method, path, agent: this.agent, headers: allHeaders }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Rejects unless the reply has the expected status, quoting the start of the body. */
export function expectStatus(reply: HttpReply, expected: number, what: string): HttpReply {
  if (reply.status !== expected) {
    throw new Error(`${what}: HTTP ${reply.status} (expected ${expected}): ${reply.body.toString('utf8', 0, Math.min(reply.body.length, 300))}`);
  }
  return reply;
}
