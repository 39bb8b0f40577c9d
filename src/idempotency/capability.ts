import type { Capability } from "../capability.js";
import { AppError } from "../http/errors.js";
import type { PersonalData } from "../privacy/personal.js";
import { idempotencyMigrations } from "./migrations.js";
import { IdempotencyService, parseKey } from "./service.js";
import { IdempotencyStore } from "./store.js";
import type { IdempotencyKeyRow } from "./tables.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The route accepts `Idempotency-Key` (IDEM-1): its first answer is replayed to retries. */
    idempotent?: boolean;
  }
  interface FastifyRequest {
    /** The idempotency claim this request holds, until its answer is stored. */
    idempotency?: IdempotencyKeyRow;
  }
}

declare module "../context.js" {
  interface Services {
    idempotency: IdempotencyService;
  }
}

/**
 * Idempotency keys on the routes that opt in (`config: { idempotent: true }`, or `idempotent: true` on an
 * extension's tenant route): claimed after the guard and validation (the organisation, the principal and
 * the parsed body are known), answered from the store on a retry, stored when the first answer is sent.
 */
export function idempotencyCapability(clock?: () => number): Capability {
  return {
    name: "idempotency",
    // A stored answer sent to the person (`principal` names them), for its key's lifetime.
    personalData: [
      {
        table: "idempotency_keys",
        column: "principal",
        match: "mentions",
        tenant: true,
        omit: ["key_hash", "fingerprint"],
        json: ["body"],
      },
    ] satisfies PersonalData[],
    migrations: idempotencyMigrations,
    async register(app, ctx) {
      const ttlMs = ctx.config.idempotencyTtlMs;
      const service = new IdempotencyService(ctx.db, new IdempotencyStore(), ttlMs, clock);
      ctx.provide("idempotency", service);

      app.addHook("preHandler", async (request, reply) => {
        if (!request.routeOptions.config.idempotent) return;
        const header = request.headers["idempotency-key"];
        if (header === undefined) return;
        const key = typeof header === "string" ? parseKey(header) : undefined;
        if (key === undefined)
          throw new AppError(
            "BAD_REQUEST",
            'Idempotency-Key must be one structured-field string of 1 to 255 printable characters, e.g. "8e03978e-40d5-43e8-bc93-6894a57f9324".',
          );
        const tenant = request.tenant;
        const principal = request.principal;
        if (!tenant || !principal) return;
        const decision = await service.begin(
          tenant.orgId,
          `${principal.kind}:${principal.id}`,
          `${request.method} ${request.routeOptions.url}`,
          key,
          { params: request.params, query: request.query, body: request.body },
        );
        if (decision.run) {
          request.idempotency = decision.claim;
          return;
        }
        reply.header("idempotent-replayed", "true").code(decision.status);
        if (decision.contentType) reply.type(decision.contentType);
        return reply.send(decision.body);
      });

      app.addHook("onSend", async (request, reply, payload) => {
        const claim = request.idempotency;
        if (!claim) return payload;
        request.idempotency = undefined;
        const type = reply.getHeader("content-type");
        await service.finish(
          claim,
          typeof payload === "string" ? reply.statusCode : 500,
          typeof payload === "string" ? payload : "",
          typeof type === "string" ? type : null,
        );
        return payload;
      });

      const hours = ttlMs / 3_600_000;
      ctx.posture.register({
        id: "IDEM-1",
        title: "Idempotent retries of writes",
        claim: `Writes that create something (orders, app webhook messages, app audit events) accept an Idempotency-Key (draft-ietf-httpapi-idempotency-key-header-07). The first request's answer is stored under the organisation, the caller, the route and the key, with a fingerprint of the request, and a retry gets it back marked Idempotent-Replayed: true; a server error is not stored, so its retry runs again. The same key with another body is refused (422), and a retry while the first is still running gets 409. Keys are claimed atomically in the database every node shares; a claim still unanswered after 5 minutes is taken as abandoned (its node died) and the next retry runs the request. Keys expire after ${hours} hours.`,
        settings: { ttlHours: hours },
        enabled: true,
      });
    },
  };
}
