import type { Capability } from "../capability.js";
import type { PersonalData } from "../privacy/personal.js";
import { ANONYMOUS, actorOf } from "./actor.js";
import { auditControls } from "./controls.js";
import type { AuditEntry } from "./entry.js";
import { auditOrigin, auditSigner } from "./keys.js";
import { auditMigrations } from "./migrations.js";
import { auditRoutes } from "./plugin.js";
import { purgeAudit } from "./retention.js";
import { AuditService, FLUSH_MS } from "./service.js";
import { AuditStore } from "./store.js";

declare module "../context.js" {
  interface Services {
    audit: AuditService;
  }
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);
/** Refusals raised past the tenant check, by a service's rule or the impersonation check (AUTHZ-6). */
const DENIALS = new Set(["FORBIDDEN", "OWNER_REQUIRED", "IMPERSONATION_FORBIDDEN"]);
const DAY_MS = 86_400_000;

/**
 * The audit log (AUDIT-1…AUDIT-6). Registered before every capability that records into it. Request
 * records come from one onResponse hook on every route (AUDIT-1); domain events from the services, in
 * their transactions (AUDIT-2). Timers: the flush of buffered records, checkpoints, the daily purge.
 */
/**
 * An entry as its subject may see it: the request facts (address, browser, request) of someone else's
 * action left out, an admin acting as the person (impersonation) included.
 */
function ownFacts(row: Record<string, unknown>, personId: string): Record<string, unknown> {
  const entry = row.entry as Partial<AuditEntry> | undefined;
  if (!entry || typeof entry !== "object") return row;
  if (entry.actor?.id === personId && !entry.impersonator) return row;
  const { ip: _ip, userAgent: _agent, ...metadata } = (entry.metadata ?? {}) as Record<string, unknown>;
  const request = entry.request
    ? { method: entry.request.method, route: entry.request.route, status: entry.request.status }
    : null;
  return { ...row, entry: { ...entry, metadata, request } };
}

export const auditCapability: Capability = {
  name: "audit",
  // Every entry that names the person (their actions, and others' about them), parsed; another actor's
  // address, agent and request facts are theirs, not the person's.
  personalData: [
    {
      table: "audit_events",
      column: "entry",
      match: "mentions",
      omit: ["leaf"],
      json: ["entry"],
      shape: ownFacts,
      // Its service blanks them: an entry's leaf must stay (GDPR-2).
      erase: "owner",
    },
  ] satisfies PersonalData[],
  migrations: auditMigrations,
  async register(app, ctx) {
    const c = ctx.config.audit;
    const audit = new AuditService(
      new AuditStore(ctx.db.global, ctx.db.engine, (text, params) => ctx.db.selectRows(text, params)),
      ctx.db.global,
      auditSigner(ctx.config),
      (log) => auditOrigin(ctx.config, log),
      {
        enabled: c.enabled,
        checkpointEntries: c.checkpointEntries,
        checkpointMs: c.checkpointSeconds * 1000,
        retentionDays: c.retentionDays,
      },
      ctx.log,
    );
    ctx.provide("audit", audit);

    // AUDIT-1: every state-changing request that reached a route, whatever its outcome. Reads are not.
    if (c.enabled)
      app.addHook("onResponse", (request, reply, done) => {
        const route = request.routeOptions.url;
        const code = request.errorCode;
        if (code && DENIALS.has(code) && route !== undefined && !audit.deniedAlready(request))
          audit.recordDenial(
            {
              orgId: (request.params as { orgId?: string } | undefined)?.orgId ?? "",
              action: request.routeOptions.config.guard?.action ?? "",
              resource: route,
              reason: code.toLowerCase(),
            },
            request,
            request.tenant !== undefined,
          );
        if (!SAFE.has(request.method) && route !== undefined) {
          const ua = request.headers["user-agent"];
          audit.recordSoon({
            action: "http.request",
            actor: request.principal ? actorOf(request.principal) : (request.auditActor ?? ANONYMOUS),
            impersonator: request.principal?.impersonator ?? null,
            orgId: request.tenant?.orgId,
            request: {
              method: request.method,
              route,
              status: reply.statusCode,
              durationMs: Math.round(reply.elapsedTime * 100) / 100,
              ip: request.ip,
              userAgent: typeof ua === "string" ? ua.slice(0, 256) : null,
              requestId: request.id,
            },
          });
        }
        done();
      });

    await app.register(auditRoutes, { audit });

    const jobs = ctx.service("jobs");
    const timers: NodeJS.Timeout[] = [];
    const every = (ms: number, fn: () => Promise<unknown>) => {
      const t = setInterval(
        () => void fn().catch((err: Error) => ctx.log.error({ reason: err.message }, "audit job failed")),
        ms,
      );
      t.unref();
      timers.push(t);
    };
    app.addHook("onReady", async () => {
      await audit.publishKey();
      if (!c.enabled) return;
      every(FLUSH_MS, () => audit.flush());
      every(Math.min(1000, c.checkpointSeconds * 1000), () => audit.checkpointDue());
    });
    if (c.enabled)
      jobs.schedule("audit.retention", { everyMs: DAY_MS }, () =>
        purgeAudit(ctx.db, audit.retentionCutoff()),
      );
    app.addHook("onClose", async () => {
      for (const t of timers) clearInterval(t);
      await audit.flush();
    });

    ctx.metrics.gauge("bulwark_audit_buffered", "Audit records waiting to be written.", () => audit.waiting);
    auditControls(ctx.posture, ctx.config, audit);
  },
};
