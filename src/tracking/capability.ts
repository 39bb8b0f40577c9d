import type { Capability } from "../capability.js";
import { toAppError } from "../http/error-handler.js";
import { SentryReporter } from "./sentry.js";

/**
 * Optional error tracking (OBS-3): with SENTRY_DSN set, every request answered with a 5xx is reported
 * (sentry.ts scrubs it). First among the capabilities, so its hook covers every route registered after.
 */
export function trackingCapability(release: string): Capability {
  return {
    name: "tracking",
    register(app, ctx) {
      const dsn = ctx.config.sentryDsn;
      if (!dsn) return;
      const reporter = new SentryReporter(dsn, ctx.config.profile, release);
      const pending = new Set<Promise<void>>();
      app.addHook("onError", async (request, _reply, err) => {
        const status = toAppError(err).status;
        if (status < 500) return;
        const sent = reporter.capture(err, {
          method: request.method,
          route: request.routeOptions.url ?? "(no route)",
          status,
          requestId: request.id,
        });
        pending.add(sent);
        void sent.finally(() => pending.delete(sent));
      });
      // Events under way when the server stops are given their few seconds.
      app.addHook("onClose", async () => {
        await Promise.all(pending);
      });
      ctx.metrics.gauge(
        "bulwark_error_events_dropped",
        "Error-tracking events dropped (receiver unreachable, or too many at once).",
        () => reporter.dropped,
      );
      ctx.posture.register({
        id: "OBS-3",
        title: "Error tracking without personal data",
        claim: `Each 5xx is reported to the configured Sentry-compatible service (host ${new URL(dsn).host}) with the error's class, its message and stack scrubbed of secrets, email and IP addresses and long opaque values, the route template, status and request id. No header, cookie, query string, body, IP address or user is sent.`,
        settings: { host: new URL(dsn).host },
        enabled: true,
      });
    },
  };
}
