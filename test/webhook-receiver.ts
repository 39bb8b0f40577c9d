import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A request the receiver got: its path, headers and body, as sent. */
export interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/**
 * A real HTTP receiver on 127.0.0.1 for webhook tests: records every request and answers as `answer`
 * says (default 204). `answer` may return a promise that never settles: a receiver that hangs.
 */
export class Receiver {
  readonly got: Received[] = [];
  answer: (r: Received) =>
    | Promise<{ status: number; body?: string; headers?: Record<string, string> }>
    | {
        status: number;
        body?: string;
        headers?: Record<string, string>;
      } = () => ({ status: 204 });
  private server!: Server;
  url = "";

  async start(host = "127.0.0.1"): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", async () => {
        const r = {
          path: req.url ?? "/",
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        };
        this.got.push(r);
        const a = await this.answer(r);
        res.writeHead(a.status, a.headers ?? {});
        res.end(a.body ?? "");
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, host, resolve));
    this.url = `http://${host}:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Headers of the receiver's requests as a plain record (what verifiers take). */
  static headers(r: Received): Record<string, string> {
    return Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, String(v)]));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
