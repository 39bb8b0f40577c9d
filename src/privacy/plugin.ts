import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { byRequest } from "../audit/actor.js";
import type { AuditService } from "../audit/service.js";
import type { Db } from "../db/database.js";
import { AppError } from "../http/errors.js";
import { sessionOf } from "../identity/principal.js";
import type { DeletionState, ErasureService } from "./erasure.js";
import type { PrivacyService } from "./service.js";

const Export = Type.Object({
  format: Type.Literal("bulwark.personal-data.v1"),
  exportedAt: Type.String(),
  user: Type.Object({ id: Type.String(), email: Type.String() }),
  tables: Type.Record(Type.String(), Type.Array(Type.Record(Type.String(), Type.Unknown())), {
    description:
      "Every row of every table that names you (by your id, your address, or a text mentioning either), by table; `table.column` when a table names you in more than one way.",
  }),
  withheld: Type.Record(Type.String(), Type.Array(Type.String()), {
    description: "The columns left out of each table: secrets, their hashes and tokens.",
  }),
  notes: Type.Array(Type.String()),
});

const Deletion = Type.Object({
  status: Type.Union([Type.Literal("pending"), Type.Literal("erasing"), Type.Literal("none")], {
    description: "`erasing`: the job has begun; it can no longer be cancelled.",
  }),
  coolingOffDays: Type.Integer({ description: "Days between a request and the account's erasure." }),
  requestedAt: Type.Optional(Type.String({ format: "date-time" })),
  dueAt: Type.Optional(
    Type.String({ format: "date-time", description: "When the account will be erased, unless cancelled." }),
  ),
});

const deletionOf = (coolingOffDays: number, s: DeletionState | undefined) =>
  s
    ? {
        status: s.erasing ? ("erasing" as const) : ("pending" as const),
        coolingOffDays,
        requestedAt: new Date(s.requestedAt).toISOString(),
        dueAt: new Date(s.dueAt).toISOString(),
      }
    : { status: "none" as const, coolingOffDays };

/**
 * `POST /v1/me/export` (GDPR-1): the signed-in user's personal data as one JSON document, audited; and
 * `/v1/me/deletion` (GDPR-2): the account's deletion request, its state, its cancellation.
 */
export async function privacyRoutes(
  app: FastifyInstance,
  opts: { privacy: PrivacyService; erasure: ErasureService; audit: AuditService; db: Db },
): Promise<void> {
  const { privacy, erasure, audit, db } = opts;
  const state = (s: DeletionState | undefined) => deletionOf(erasure.coolingOffDays, s);
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const me = ["me"];
  r.get("/v1/me/deletion", { schema: { tags: me, response: { 200: Deletion } } }, async (req) =>
    state(await erasure.status(sessionOf(req).user_id)),
  );
  r.post(
    "/v1/me/deletion",
    {
      schema: {
        tags: me,
        body: Type.Optional(Type.Object({}, { additionalProperties: false })),
        response: { 202: Deletion },
      },
    },
    async (req, reply) => {
      return reply.code(202).send(state(await erasure.request(sessionOf(req).user_id, req)));
    },
  );
  r.delete("/v1/me/deletion", { schema: { tags: me, response: { 200: Deletion } } }, async (req) => {
    await erasure.cancel(sessionOf(req).user_id, req);
    return state(undefined);
  });
  app.withTypeProvider<TypeBoxTypeProvider>().post(
    "/v1/me/export",
    {
      schema: {
        tags: ["me"],
        summary: "Export your personal data",
        description:
          "Every row of every table that names the account, as JSON, downloaded as a file (GDPR-1). Secrets and their hashes are withheld (and listed), other people are replaced by a placeholder. Limited like exports; recorded in the platform audit log; refused while impersonated.",
        body: Type.Optional(Type.Object({}, { additionalProperties: false })),
        response: { 200: Export },
      },
    },
    async (req, reply) => {
      const session = sessionOf(req);
      if (!session.email) throw new AppError("UNAUTHENTICATED");
      const data = await privacy.export({ id: session.user_id, email: session.email });
      await audit.record(
        db,
        byRequest(req, {
          action: "user.data_exported",
          entity: { type: "user", id: session.user_id },
          metadata: {
            rows: Object.fromEntries(Object.entries(data.tables).map(([t, rows]) => [t, rows.length])),
          },
        }),
      );
      const day = data.exportedAt.slice(0, 10);
      return reply
        .header("content-disposition", `attachment; filename="bulwark-personal-data-${day}.json"`)
        .header("cache-control", "no-store")
        .send(data);
    },
  );
}
