import { randomUUID } from "node:crypto";
import { redactString } from "../log/redact.js";

/** What an event says about the request that failed: nothing a person or a credential could be read from. */
export interface FailedRequest {
  readonly method: string;
  /** The route template (`/v1/orgs/:orgId/products/:id`), never the URL: paths and queries carry ids and tokens. */
  readonly route: string;
  readonly status: number;
  readonly requestId: string;
}

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
const IPV4 = /\b\d{1,3}(?:\.\d{1,3}){3}\b/g;
/** Long opaque runs (tokens, keys, hashes) that no pattern of redact.ts names. */
const OPAQUE = /\b[A-Za-z0-9_-]{32,}\b/g;

/** A message or stack line with secrets, addresses, emails and long opaque values replaced. */
export function scrub(s: string): string {
  return redactString(s).replace(EMAIL, "[email]").replace(IPV4, "[ip]").replace(OPAQUE, "[redacted]");
}

/**
 * Error tracking over the Sentry envelope protocol (OBS-3), so Sentry, GlitchTip or Bugsink receive
 * Bulwark's 5xx without a vendor SDK that would collect headers, cookies, bodies and users by default.
 * An event carries the error's class, its scrubbed message and stack, the route template, status,
 * request id, release and environment, and nothing else. Sending never delays or fails a response:
 * at most `maxInFlight` events at once (more are dropped and counted), each with a 5 s timeout.
 */
export class SentryReporter {
  private readonly endpoint: string;
  private readonly auth: string;
  private inFlight = 0;
  dropped = 0;

  constructor(
    dsn: string,
    private readonly environment: string,
    private readonly release: string,
    private readonly maxInFlight = 10,
  ) {
    const u = new URL(dsn);
    const project = u.pathname.split("/").pop()!;
    const prefix = u.pathname.slice(0, u.pathname.length - project.length);
    this.endpoint = `${u.protocol}//${u.host}${prefix}api/${project}/envelope/`;
    this.auth = `Sentry sentry_version=7, sentry_key=${decodeURIComponent(u.username)}, sentry_client=bulwark/${release}`;
  }

  /** Sends `err` as an event; resolves when sent, dropped or failed, never rejects. */
  async capture(err: unknown, request?: FailedRequest): Promise<void> {
    if (this.inFlight >= this.maxInFlight) {
      this.dropped++;
      return;
    }
    this.inFlight++;
    try {
      const eventId = randomUUID().replace(/-/g, "");
      const body = [
        JSON.stringify({ event_id: eventId, sent_at: new Date().toISOString() }),
        JSON.stringify({ type: "event" }),
        JSON.stringify(this.event(eventId, err, request)),
      ].join("\n");
      await fetch(this.endpoint, {
        method: "POST",
        headers: { "content-type": "application/x-sentry-envelope", "x-sentry-auth": this.auth },
        body,
        signal: AbortSignal.timeout(5_000),
      }).then((r) => r.body?.cancel());
    } catch {
      this.dropped++;
    } finally {
      this.inFlight--;
    }
  }

  private event(eventId: string, err: unknown, request: FailedRequest | undefined) {
    const e = err instanceof Error ? err : new Error(String(err));
    return {
      event_id: eventId,
      timestamp: Date.now() / 1000,
      platform: "node",
      level: "error",
      environment: this.environment,
      release: `bulwark@${this.release}`,
      exception: {
        values: [{ type: e.name, value: scrub(e.message), stacktrace: { frames: frames(e.stack) } }],
      },
      ...(request
        ? {
            transaction: `${request.method} ${request.route}`,
            tags: { route: request.route, status: String(request.status), request_id: request.requestId },
          }
        : {}),
    };
  }
}

/** Stack frames, innermost last as Sentry expects, with only function, file and position kept. */
function frames(stack: string | undefined) {
  const out: { function?: string; filename?: string; lineno?: number; colno?: number }[] = [];
  for (const line of (stack ?? "").split("\n").slice(1, 51)) {
    const m = /^\s*at (?:(.+?) \()?(.+?):(\d+):(\d+)\)?$/.exec(line);
    if (!m) continue;
    out.push({
      ...(m[1] ? { function: scrub(m[1]) } : {}),
      filename: scrub(m[2]!),
      lineno: Number(m[3]),
      colno: Number(m[4]),
    });
  }
  return out.reverse();
}
