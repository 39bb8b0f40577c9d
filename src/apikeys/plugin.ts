import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { nextCursor, pageParams } from "../http/paging.js";
import { NoContent } from "../identity/schemas.js";
import { stampOf } from "../orgs/stamp.js";
import { KEY_PREFIX } from "./format.js";
import type { ApiKeyService, KeyActor } from "./service.js";
import type { ApiKeyRow } from "./tables.js";

const tags = ["api-keys"];
const KEY_ID = "^key_[0-9A-Z]{26}$";
const OrgParams = Type.Object({ orgId: Type.String({ maxLength: 40 }) });
const KeyParams = Type.Object({
  orgId: Type.String({ maxLength: 40 }),
  id: Type.String({ pattern: KEY_ID }),
});
const Iso = Type.Union([Type.String({ format: "date-time" }), Type.Null()]);
const Status = Type.Union([
  Type.Literal("active"),
  Type.Literal("grace"),
  Type.Literal("revoked"),
  Type.Literal("expired"),
]);
const ApiKey = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String({ description: "`bwk_` and the key's next 8 characters: enough to recognise it." }),
  scopes: Type.Array(Type.String()),
  allowedOrigins: Type.Array(Type.String()),
  allowedIps: Type.Array(Type.String()),
  status: Status,
  expiresAt: Iso,
  revokedAt: Iso,
  rotatedTo: Type.Union([Type.String(), Type.Null()]),
  createdBy: Type.String(),
  createdAt: Type.String(),
  lastUsedAt: Iso,
});
const Created = Type.Object({
  apiKey: ApiKey,
  key: Type.String({ description: "The key itself. Shown this once: Bulwark keeps only its SHA-256." }),
});

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/** Key management (KEY-1…KEY-7): `/v1/orgs/:orgId/api-keys*`, for members holding `apikeys:manage`. */
export async function apiKeyRoutes(app: FastifyInstance, opts: { keys: ApiKeyService }): Promise<void> {
  const { keys } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const view = (row: ApiKeyRow, now = Date.now()) => ({
    id: row.id,
    name: row.name,
    prefix: `${KEY_PREFIX}${row.prefix}`,
    scopes: JSON.parse(row.scopes) as string[],
    allowedOrigins: JSON.parse(row.allowed_origins) as string[],
    allowedIps: JSON.parse(row.allowed_ips) as string[],
    status:
      row.expires_at !== null && now >= row.expires_at
        ? ("expired" as const)
        : row.revoked_at === null
          ? ("active" as const)
          : now < row.revoked_at
            ? ("grace" as const)
            : ("revoked" as const),
    expiresAt: iso(row.expires_at),
    revokedAt: iso(row.revoked_at),
    rotatedTo: row.rotated_to,
    createdBy: row.created_by,
    createdAt: new Date(row.created_at).toISOString(),
    lastUsedAt: iso(keys.lastUsed(row)),
  });

  r.get(
    "/v1/orgs/:orgId/api-keys",
    {
      schema: {
        tags,
        params: OrgParams,
        querystring: Type.Object({
          limit: pageParams(KEY_ID, 50).limit,
          before: Type.Optional(Type.String({ pattern: KEY_ID })),
        }),
        response: {
          200: Type.Object({
            apiKeys: Type.Array(ApiKey),
            scopes: Type.Array(Type.String(), { description: "Every scope a key may hold here." }),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
          }),
        },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 50;
      const rows = await keys.list(req.tenant!.orgId, limit, req.query.before);
      return {
        apiKeys: rows.map((row) => view(row)),
        scopes: keys.scopes().filter((s) => req.tenant!.can(s)),
        nextCursor: nextCursor(rows, limit, (row) => row.id),
      };
    },
  );

  r.post(
    "/v1/orgs/:orgId/api-keys",
    {
      schema: {
        tags,
        params: OrgParams,
        body: Type.Object({
          name: Type.String({ minLength: 1, maxLength: 100 }),
          scopes: Type.Array(Type.String({ maxLength: 63 }), {
            minItems: 1,
            maxItems: 100,
            examples: [["org:read", "members:read"]],
          }),
          expiresAt: Type.Optional(
            Type.Union([
              Type.String({ format: "date-time", examples: ["2027-06-30T00:00:00Z"] }),
              Type.Null(),
            ]),
          ),
          allowedOrigins: Type.Optional(
            Type.Array(Type.String({ maxLength: 255 }), {
              maxItems: 20,
              examples: [["https://app.example.org"]],
            }),
          ),
          allowedIps: Type.Optional(
            Type.Array(Type.String({ maxLength: 49 }), {
              maxItems: 50,
              examples: [["203.0.113.0/24", "2001:db8::/32"]],
            }),
          ),
        }),
        response: { 201: Created },
      },
    },
    async (req, reply) => {
      const { expiresAt, ...rest } = req.body;
      const made = await keys.create(
        req.tenant!.orgId,
        actorOf(req),
        { ...rest, expiresAt: expiresAt ? Date.parse(expiresAt) : null },
        stampOf(req),
      );
      return reply.code(201).send({ apiKey: view(made.row), key: made.key });
    },
  );

  r.post(
    "/v1/orgs/:orgId/api-keys/:id/rotate",
    {
      schema: {
        tags,
        params: KeyParams,
        body: Type.Object({
          gracePeriodSeconds: Type.Integer({
            minimum: 0,
            maximum: 30 * 86_400,
            examples: [86_400],
            description: "How long the old key keeps working (never past its own expiry); 0 revokes it now.",
          }),
        }),
        response: { 201: Type.Object({ ...Created.properties, previous: ApiKey }) },
      },
    },
    async (req, reply) => {
      const made = await keys.rotate(
        req.tenant!.orgId,
        req.params.id,
        actorOf(req),
        req.body.gracePeriodSeconds * 1000,
        stampOf(req),
      );
      return reply.code(201).send({ apiKey: view(made.row), key: made.key, previous: view(made.old) });
    },
  );

  r.delete(
    "/v1/orgs/:orgId/api-keys/:id",
    {
      schema: {
        tags,
        params: KeyParams,
        response: NoContent,
      },
    },
    async (req, reply) => {
      await keys.revoke(req.tenant!.orgId, req.params.id, stampOf(req));
      return reply.code(204).send();
    },
  );
}

/** The member managing keys: its id, and what it may hand on (its role's actions here). */
function actorOf(req: FastifyRequest): KeyActor {
  const access = req.tenant!;
  return { id: req.principal!.id, can: (action) => access.can(action) };
}
