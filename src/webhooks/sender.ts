import { isIP, type LookupFunction } from "node:net";
import { Agent, request } from "undici";
import { type TargetPolicy, UnsafeTarget } from "./ssrf.js";

/** The first bytes of a receiver's answer kept with each attempt (HOOK-3). */
export const EXCERPT_BYTES = 4096;

/** What one attempt came to. */
export interface AttemptOutcome {
  /** The HTTP status, or undefined when none came. */
  readonly status?: number | undefined;
  readonly durationMs: number;
  readonly response?: string | undefined;
  readonly error?: string | undefined;
  /** The receiver's Retry-After, in ms from now (on 429 and 503). */
  readonly retryAfterMs?: number | undefined;
  /** The target was refused (HOOK-7): no connection was made. */
  readonly refused?: boolean;
}

/**
 * Sends deliveries (HOOK-4, HOOK-7): one connection pool for every endpoint, whose sockets resolve their
 * host through the target policy: every address is checked when a connection opens, and the socket
 * connects to exactly the addresses checked (no second resolution, so no DNS rebinding). Redirects are
 * never followed; each attempt ends after `timeoutMs`, connection to last byte.
 */
export class WebhookSender {
  private readonly agent: Agent;

  constructor(
    private readonly policy: TargetPolicy,
    private readonly timeoutMs: number,
    /** Sockets per origin: as many as deliveries at once, so none waits in undici's queue while its timeout runs. */
    connections = 32,
  ) {
    const lookup: LookupFunction = (host, options, callback) => {
      policy.check(new URL(`http://${host.includes(":") ? `[${host}]` : host}/`)).then(
        (addresses) => policy.pinned(addresses)(host, options, callback),
        (err: Error) => callback(err as NodeJS.ErrnoException, "", 0),
      );
    };
    this.agent = new Agent({
      connect: { lookup, timeout: timeoutMs },
      connections,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      keepAliveTimeout: 4000,
    });
  }

  async send(url: string, headers: Record<string, string>, body: string): Promise<AttemptOutcome> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    let target: URL;
    try {
      target = this.policy.parse(url);
      // A literal address never reaches the lookup: check it here, at every delivery.
      if (isIP(target.hostname.replace(/^\[|\]$/g, ""))) await this.policy.check(target);
    } catch (err) {
      return { durationMs: elapsed(), error: (err as Error).message, refused: true };
    }
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const res = await request(target, {
        method: "POST",
        headers: { ...headers, "user-agent": "Bulwark-Webhooks/1" },
        body,
        dispatcher: this.agent,
        signal,
        maxRedirections: 0,
      } as Parameters<typeof request>[1]);
      const excerpt = await readExcerpt(res.body);
      const retryAfter = res.headers["retry-after"];
      return {
        status: res.statusCode,
        durationMs: elapsed(),
        response: excerpt,
        retryAfterMs:
          res.statusCode === 429 || res.statusCode === 503
            ? parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter)
            : undefined,
      };
    } catch (err) {
      const e = err as Error & { code?: string; cause?: Error };
      const refused = e instanceof UnsafeTarget || e.cause instanceof UnsafeTarget;
      const message = signal.aborted
        ? `no answer within ${this.timeoutMs / 1000} s`
        : (refused ? (e.cause ?? e).message : `${e.code ?? e.name}: ${e.message}`).slice(0, 300);
      return { durationMs: elapsed(), error: message, refused };
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** Reads the first EXCERPT_BYTES of a body as text and drops the rest. */
async function readExcerpt(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= EXCERPT_BYTES) {
      body.destroy();
      break;
    }
  }
  // NUL is the one character a text column of PostgreSQL refuses: a receiver must not be able to make
  // its attempt unrecordable (and so retried for ever).
  return Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString("utf8").replaceAll("\0", "\uFFFD");
}

/** Retry-After as ms from now: delta-seconds or an HTTP date (RFC 9110 10.2.3); undefined if neither. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d{1,9}$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
