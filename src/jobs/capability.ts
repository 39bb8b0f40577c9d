import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { Capability } from "../capability.js";
import { jobMigrations } from "./migrations.js";
import { JobsService } from "./service.js";

declare module "../context.js" {
  interface Services {
    jobs: JobsService;
  }
}

const Run = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: Type.String(),
  startedAt: Type.String(),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  durationMs: Type.Union([Type.Integer(), Type.Null()]),
  rows: Type.Union([Type.Integer(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  node: Type.String(),
});
const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/**
 * Background jobs (OBS-6, OPS-2): scheduled by the capabilities that own them, run here unless this
 * process serves HTTP only (`background` false: `bulwark start --no-worker`), each run recorded and listed
 * for platform admins.
 */
export const jobsCapability = (background = true): Capability => ({
  name: "jobs",
  migrations: jobMigrations,
  async register(app, ctx) {
    const jobs = new JobsService(ctx.db.global, ctx.log, ctx.metrics, background);
    ctx.provide("jobs", jobs);
    app.addHook("onReady", async () => jobs.start());
    app.addHook("onClose", async () => jobs.stop());
    const refusesRoot = ctx.config.production && !ctx.config.allowRoot;
    ctx.posture.register({
      id: "OPS-2",
      title: "Separate worker processes; no root",
      claim: `The API and the background work can run as separate processes (\`bulwark start --no-worker\` serves HTTP only; \`bulwark worker\` delivers webhooks and runs the scheduled jobs). A scheduled job runs once per period among every process sharing the database, never twice at once, and each run is recorded with its process, status, duration, rows and error; a failed run is tried again within five minutes.${refusesRoot ? " `bulwark start` and `bulwark worker` refuse to run as root." : ""}`,
      // Nothing particular to this process: the posture (POST-4) is the deployment's, the same on every node.
      settings: { refusesRoot },
      enabled: true,
    });
    app.withTypeProvider<TypeBoxTypeProvider>().get(
      "/v1/admin/jobs",
      {
        schema: {
          tags: ["admin"],
          summary: "Recent background job runs",
          description:
            "Platform admins only. Each run of a background job (audit retention, …) with its status, duration and rows, newest first (OBS-6).",
          querystring: Type.Object({
            name: Type.Optional(
              Type.String({ pattern: "^[a-z0-9_.-]{1,64}$", examples: ["audit.retention"] }),
            ),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
            latest: Type.Optional(
              Type.Boolean({ description: "Only the newest run of each job (name and limit are ignored)." }),
            ),
          }),
          response: { 200: Type.Object({ items: Type.Array(Run) }) },
        },
      },
      async (req) => ({
        items: (req.query.latest
          ? await jobs.latest()
          : await jobs.list(req.query.limit ?? 50, req.query.name)
        ).map((r) => ({
          id: r.id,
          name: r.name,
          status: r.status,
          startedAt: new Date(r.started_at).toISOString(),
          finishedAt: iso(r.finished_at),
          durationMs: r.duration_ms,
          rows: r.rows,
          error: r.error,
          node: r.node,
        })),
      }),
    );
  },
});
