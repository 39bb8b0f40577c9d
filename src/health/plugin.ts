import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { Config } from "../config/load.js";
import type { PostureRegistry } from "../posture/registry.js";
import type { HealthChecks } from "./checks.js";

const Check = Type.Object({
  status: Type.Union([Type.Literal("up"), Type.Literal("down")]),
  latencyMs: Type.Number(),
  required: Type.Boolean(),
  error: Type.Optional(Type.String()),
});
const Health = Type.Object({
  status: Type.Union([Type.Literal("ok"), Type.Literal("degraded"), Type.Literal("unavailable")]),
  checks: Type.Record(Type.String(), Check),
  failingClaims: Type.Array(Type.String(), {
    description:
      "Requirement IDs of security-page claims whose last live self-check did not hold (POST-3); see /security.",
  }),
});
const Live = Type.Object({ status: Type.Literal("ok") });

/**
 * OBS-4. `/health/live` answers while the process can serve (liveness: never touches a dependency, so a
 * database outage does not get the pod killed); `/health` probes every dependency (readiness: 503 while a
 * required one is down). In production the failure text is logged, not returned: it names internal hosts.
 */
export async function healthPlugin(
  app: FastifyInstance,
  opts: { config: Config; checks: HealthChecks; posture: PostureRegistry },
): Promise<void> {
  const { config, checks, posture } = opts;
  // POST-3: a claim of the security page that its live self-check found not to hold needs attention,
  // though the server still serves: degraded, never unavailable.
  const failingClaims = (): string[] => [...new Set(posture.failing().map((c) => c.id))];
  checks.add({
    name: "security-claims",
    required: false,
    quiet: true,
    probe: async () => {
      const failing = failingClaims();
      if (failing.length) throw new Error(`claims that do not hold: ${failing.join(", ")}`);
    },
  });
  const live = { status: "ok" } as const;
  app.get(
    "/health/live",
    {
      schema: { tags: ["health"], summary: "Liveness", response: { 200: Live } },
    },
    (_req, reply) => {
      reply.send(live);
    },
  );
  app.get(
    "/health",
    {
      schema: {
        tags: ["health"],
        summary: "Readiness: every dependency with its latency",
        response: { 200: Health, 503: Health },
      },
    },
    async (request, reply) => {
      const result = await checks.run();
      for (const [name, r] of Object.entries(result.checks)) {
        if (r.status === "down") {
          if (!checks.quiet(name))
            request.log.warn({ dependency: name, reason: r.error }, "health check failed");
          if (config.production) delete r.error;
        }
      }
      return reply.code(result.healthy ? 200 : 503).send({
        // Degraded: serving, but an optional dependency (mail, a stale backup) needs attention.
        status: !result.healthy
          ? "unavailable"
          : Object.values(result.checks).every((c) => c.status === "up")
            ? "ok"
            : "degraded",
        checks: result.checks,
        failingClaims: failingClaims(),
      });
    },
  );
  app.addHook("onReady", async () => {
    posture.register({
      id: "OBS-4",
      title: "Health checks",
      claim:
        "GET /health probes every dependency and reports its latency, answering 503 while a required one is down; GET /health/live reports liveness.",
      settings: { dependencies: checks.names },
      enabled: true,
    });
  });
}
