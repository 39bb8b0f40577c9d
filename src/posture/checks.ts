import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import { SELF_CHECK_ADDRESS, SELF_CHECK_HEADER, SELF_CHECK_TOKEN } from "../http/self-check.js";
import type { Control, PostureRegistry, ProbeContext, ProbeResponse } from "./registry.js";

const TIMEOUT_MS = 5000;

/** A claim that did not hold: the message says what was seen instead. */
export class NotHeld extends Error {}

/** Fails the probe with `seen` unless `ok`. */
export function expectThat(ok: boolean, seen: string): asserts ok {
  if (!ok) throw new NotHeld(seen);
}

/** One response header as a string ("" when absent). */
export const header = (res: ProbeResponse, name: string): string => {
  const v = res.headers[name];
  return v === undefined ? "" : Array.isArray(v) ? v.join(", ") : String(v);
};

/** The error code of an error envelope ("" when the body is not one). */
export const errorCode = (res: ProbeResponse): string => {
  try {
    return String((JSON.parse(res.body) as { error?: { code?: unknown } }).error?.code ?? "");
  } catch {
    return "";
  }
};

/**
 * POST-3: runs every claim's probe against the running server, at start-up and then every `intervalMs`,
 * one probe at a time (a check costs the server a few in-process requests, never a burst). Each probe
 * answers through `app.inject`, the whole HTTP stack but no socket: requests go to the public host, as
 * a client over HTTPS would send them (`plain` for the HTTPS policy's own check), and only with GET, HEAD
 * or OPTIONS, so a check never changes state nor writes an audit entry. A probe that throws, or answers
 * nothing within 5 s, marks its claim "does not hold" until a later run sees it hold again.
 */
export function selfChecks(
  app: FastifyInstance,
  posture: PostureRegistry,
  opts: { publicUrl: string; intervalMs: number; now: () => number; log: FastifyBaseLogger },
): { start(): void; stop(): Promise<void> } {
  const host = new URL(opts.publicUrl).host;
  const probeContext: ProbeContext = {
    now: opts.now,
    request: async (req) => {
      const res = await app.inject({
        method: req.method ?? "GET",
        url: req.url,
        remoteAddress: SELF_CHECK_ADDRESS,
        headers: { host, ...(req.plain ? {} : { [SELF_CHECK_HEADER]: SELF_CHECK_TOKEN }), ...req.headers },
      });
      return { statusCode: res.statusCode, headers: res.headers, body: res.body };
    },
  };

  const checkOne = async (control: Control): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    let detail: string | undefined;
    try {
      await Promise.race([
        control.probe!(probeContext),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new NotHeld(`no answer within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
        }),
      ]);
    } catch (err) {
      // A probe's own words are written for the public page; anything else may name internals: logged.
      if (err instanceof NotHeld) detail = err.message;
      else {
        detail = "the check could not run";
        opts.log.error({ control: control.id, reason: (err as Error).message }, "security self-check failed");
      }
    } finally {
      clearTimeout(timer);
    }
    const before = posture.outcome(control);
    posture.record(control, {
      holds: detail === undefined,
      checkedAt: new Date(opts.now()).toISOString(),
      ...(detail !== undefined ? { detail } : {}),
    });
    // Logged on a change only: a claim that stays broken is one line, not one every interval.
    if (detail !== undefined && before?.holds !== false)
      opts.log.warn(
        { control: control.id, title: control.title, seen: detail },
        "security claim does not hold",
      );
    else if (detail === undefined && before?.holds === false)
      opts.log.info({ control: control.id, title: control.title }, "security claim holds again");
  };

  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const run = (): Promise<void> => {
    running ??= (async () => {
      for (const control of posture.claims()) if (control.probe && !stopped) await checkOne(control);
    })().finally(() => {
      running = undefined;
    });
    return running;
  };
  return {
    start() {
      // Called from an onReady hook, not awaited: the first run waits for every other onReady hook (some
      // register controls) and for the server to be ready to answer app.inject.
      posture.track(
        Promise.resolve(app.ready()).then(
          async () => {
            await run();
            if (opts.intervalMs > 0 && !stopped) {
              timer = setInterval(() => posture.track(run()), opts.intervalMs);
              timer.unref();
            }
          },
          () => undefined,
        ),
      );
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
