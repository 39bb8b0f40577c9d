import { Readable } from "node:stream";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { AppError } from "../http/errors.js";
import { byRequest } from "./actor.js";
import { PLATFORM_LOG } from "./entry.js";
import { bundle, csv, itemOf, ndjson } from "./export.js";
import {
  AUD_ID,
  b64,
  Checkpoint,
  cp,
  cursorOf,
  Entry,
  Filters,
  filterOf,
  Nullable,
  OrgParams,
  Page,
  parseCursor,
  tags,
} from "./schemas.js";
import type { AuditService } from "./service.js";

/** Query, proofs, export and app events of the audit log (AUDIT-2, AUDIT-4, AUDIT-5). */
export async function auditRoutes(app: FastifyInstance, opts: { audit: AuditService }): Promise<void> {
  const { audit } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    "/.well-known/audit-keys.json",
    {
      schema: {
        tags,
        summary: "The keys that sign audit checkpoints",
        description:
          "Every Ed25519 key that ever signed a checkpoint, as C2SP verifier keys; `current` signs now.",
        response: {
          200: Type.Object({
            keys: Type.Array(
              Type.Object({
                keyId: Type.String(),
                vkey: Type.String(),
                algorithm: Type.String(),
                current: Type.Boolean(),
              }),
            ),
            origin: Type.String({ description: "Checkpoint origin of a log; {log} is the organisation id." }),
          }),
        },
      },
    },
    async (_req, reply) => {
      const keys = await audit.keys();
      reply.header("cache-control", "public, max-age=300");
      return {
        keys: keys.map((k) => ({
          keyId: k.key_id,
          vkey: k.vkey,
          algorithm: "Ed25519",
          current: k.key_id === audit.signer.keyId,
        })),
        origin: audit.origin("{log}"),
      };
    },
  );

  r.get(
    "/v1/orgs/:orgId/audit-events",
    {
      schema: {
        tags,
        summary: "The organisation's audit log, newest first",
        description:
          "Owners and admins, or an API key holding audit:read. Every state-changing request and domain event of the organisation, filtered by actor, action, entity and time; `nextCursor` pages on.",
        params: OrgParams,
        querystring: Type.Object({ ...Filters, ...Page }),
        response: { 200: Type.Object({ items: Type.Array(Entry), nextCursor: Nullable() }) },
      },
      config: { errors: ["BAD_REQUEST"] },
    },
    async (req) => {
      const limit = req.query.limit ?? 50;
      const log = req.tenant!.orgId;
      const rows = await audit.query(filterOf(req.query, log), limit, parseCursor(req.query.cursor));
      return { items: rows.map(itemOf) as Static<typeof Entry>[], nextCursor: cursorOf(rows, limit) };
    },
  );

  r.post(
    "/v1/orgs/:orgId/audit-events",
    {
      schema: {
        tags,
        summary: "Record an event of your own app",
        description:
          "Appends an app event to the organisation's log, in the same tree as Bulwark's own. The action is stored as `app.<action>`, so an app cannot pass its events off as Bulwark's.",
        params: OrgParams,
        body: Type.Object(
          {
            action: Type.String({
              pattern: "^[a-z][a-z0-9_]{0,30}(\\.[a-z][a-z0-9_]{0,30}){1,3}$",
              examples: ["invoice.paid"],
            }),
            entity: Type.Optional(
              Type.Object(
                {
                  type: Type.String({ minLength: 1, maxLength: 64, examples: ["invoice"] }),
                  id: Type.String({ minLength: 1, maxLength: 128, examples: ["inv_2026_0042"] }),
                },
                { additionalProperties: false },
              ),
            ),
            before: Type.Optional(
              Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), {
                maxProperties: 50,
                examples: [{ status: "open" }],
              }),
            ),
            after: Type.Optional(
              Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), {
                maxProperties: 50,
                examples: [{ status: "paid" }],
              }),
            ),
            metadata: Type.Optional(
              Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), {
                maxProperties: 50,
                examples: [{ amountCents: 12900, currency: "EUR" }],
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ id: Type.String(), seq: Type.Integer() }) },
      },
      config: { errors: ["PAYLOAD_TOO_LARGE"], idempotent: true },
    },
    async (req, reply) => {
      const orgId = req.tenant!.orgId;
      const { action, entity, before, after, metadata } = req.body;
      const event = byRequest(req, { action: `app.${action}`, orgId, entity, before, after, metadata });
      const written = await audit.append(event);
      return reply.code(201).send(written);
    },
  );

  r.get(
    "/v1/orgs/:orgId/audit-events/export",
    {
      schema: {
        tags,
        params: OrgParams,
        querystring: Type.Object({
          format: Type.Union([Type.Literal("ndjson"), Type.Literal("csv"), Type.Literal("bundle")], {
            default: "ndjson",
          }),
          ...Filters,
        }),
      },
    },
    async (req, reply) => {
      const log = req.tenant!.orgId;
      const format = req.query.format ?? "ndjson";
      // The log as it is now (reading flushes what waits); the export's own event comes after it.
      // A bundle is checkpointed at that size first, so the whole bundle is covered by a signature.
      const size = format === "bundle" ? ((await audit.checkpoint(log))?.size ?? 0) : await audit.size(log);
      // AUDIT-2: a data export is itself an event of the organisation's log.
      const { format: _format, ...filters } = req.query;
      audit.recordSoon(
        byRequest(req, { action: "audit.exported", orgId: log, metadata: { format, filters } }),
      );
      let stream: AsyncIterable<string>;
      if (format === "bundle") {
        const checkpoints = (await audit.allCheckpoints(log)).filter((c) => c.size <= size);
        stream = bundle(
          {
            format: "bulwark-audit-bundle",
            version: 1,
            log,
            origin: audit.origin(log),
            keys: (await audit.keys()).map((k) => k.vkey),
            size,
            exportedAt: new Date().toISOString(),
            retentionCutoff: new Date(audit.retentionCutoff()).toISOString(),
          },
          checkpoints,
          audit.rows(log, size),
        );
      } else {
        const rows = audit.rows(log, size, filterOf(req.query));
        stream = format === "csv" ? csv(rows) : ndjson(rows);
      }
      const name = `audit-${log}-${new Date().toISOString().slice(0, 10)}.${format === "csv" ? "csv" : format === "bundle" ? "bundle.ndjson" : "ndjson"}`;
      reply
        .type(format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson")
        .header("content-disposition", `attachment; filename="${name}"`)
        .header("cache-control", "no-store");
      // One chunk (a batch of rows) ahead of the client at most: memory stays constant on any log.
      return reply.send(Readable.from(stream, { highWaterMark: 1 }));
    },
  );

  r.get(
    "/v1/orgs/:orgId/audit-events/:id/proof",
    {
      schema: {
        tags,
        summary: "Inclusion proof of an entry in a signed checkpoint",
        description:
          "RFC 9162 2.1.3: the audit path from the entry's leaf to the root of the checkpoint (the latest, or the one of tree size `size`). Hashes are base64.",
        params: Type.Object({ orgId: Type.String({ maxLength: 40 }), id: Type.String({ pattern: AUD_ID }) }),
        querystring: Type.Object({ size: Type.Optional(Type.Integer({ minimum: 1 })) }),
        response: {
          200: Type.Object({
            id: Type.String(),
            leafIndex: Type.Integer(),
            leafHash: Type.String(),
            treeSize: Type.Integer(),
            proof: Type.Array(Type.String()),
            checkpoint: Checkpoint,
          }),
        },
      },
      config: { errors: ["NOT_FOUND"] },
    },
    async (req) => {
      const p = await audit.inclusion(req.tenant!.orgId, req.params.id, req.query.size);
      if (!p?.checkpoint || p.checkpoint.size <= p.row.seq) throw new AppError("NOT_FOUND");
      return {
        id: p.row.id,
        leafIndex: p.row.seq,
        leafHash: b64(p.row.leaf),
        treeSize: p.checkpoint.size,
        proof: p.proof.map(b64),
        checkpoint: cp(p.checkpoint),
      };
    },
  );

  r.get(
    "/v1/orgs/:orgId/audit-checkpoints",
    {
      schema: {
        tags,
        summary: "The log's signed checkpoints, newest first",
        description:
          "Owners and admins, or an API key holding audit:read. Each is a C2SP tlog-checkpoint note signed with the key at /.well-known/audit-keys.json.",
        params: OrgParams,
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
          before: Type.Optional(
            Type.Integer({ minimum: 1, description: "Only checkpoints of smaller trees." }),
          ),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(Checkpoint),
            nextCursor: Type.Union([Type.Integer(), Type.Null()]),
          }),
        },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 50;
      const rows = await audit.checkpoints(req.tenant!.orgId, limit, req.query.before);
      const last = rows[rows.length - 1];
      return { items: rows.map(cp), nextCursor: rows.length === limit && last ? last.size : null };
    },
  );

  r.get(
    "/v1/orgs/:orgId/audit-checkpoints/consistency",
    {
      schema: {
        tags,
        summary: "Consistency proof between two checkpoints",
        description:
          "RFC 9162 2.1.4: proves the tree of `from` entries is a prefix of the tree of `to`. Both are checkpoint sizes.",
        params: OrgParams,
        querystring: Type.Object({
          from: Type.Optional(
            Type.Integer({
              minimum: 1,
              examples: [1],
              description: "A checkpoint's size; default: the oldest.",
            }),
          ),
          to: Type.Optional(
            Type.Integer({
              minimum: 1,
              examples: [2],
              description: "A checkpoint's size; default: the latest.",
            }),
          ),
        }),
        response: {
          200: Type.Object({ from: Checkpoint, to: Checkpoint, proof: Type.Array(Type.String()) }),
        },
      },
      config: { errors: ["NOT_FOUND", "BAD_REQUEST"] },
    },
    async (req) => {
      const log = req.tenant!.orgId;
      const from = req.query.from ?? (await audit.checkpoints(log, 1, undefined, "oldest"))[0]?.size;
      const to = req.query.to ?? (await audit.checkpoints(log, 1))[0]?.size;
      if (from === undefined || to === undefined)
        throw new AppError("NOT_FOUND", "The log has no checkpoint yet.");
      if (from > to) throw new AppError("BAD_REQUEST", "`from` must not exceed `to`.");
      const p = await audit.consistency(log, from, to);
      if (!p) throw new AppError("NOT_FOUND", "No checkpoint of that size.");
      return { from: cp(p.from), to: cp(p.to), proof: p.proof.map(b64) };
    },
  );

  r.get(
    "/v1/admin/audit-events",
    {
      schema: {
        tags: ["admin"],
        summary: "Every log, newest first (platform admins)",
        description:
          "Platform admins only. Entries of every organisation's log and of the platform log (sign-ins, admin actions), or of one with `log`.",
        querystring: Type.Object({
          log: Type.Optional(
            Type.String({
              pattern: `^(org_[0-9A-Z]{26}|${PLATFORM_LOG})$`,
              description: "An organisation id, or `platform`.",
              examples: ["platform"],
            }),
          ),
          ...Filters,
          ...Page,
        }),
        response: { 200: Type.Object({ items: Type.Array(Entry), nextCursor: Nullable() }) },
      },
      config: { errors: ["BAD_REQUEST"] },
    },
    async (req) => {
      const limit = req.query.limit ?? 50;
      const rows = await audit.query(
        filterOf(req.query, req.query.log),
        limit,
        parseCursor(req.query.cursor),
      );
      return { items: rows.map(itemOf) as Static<typeof Entry>[], nextCursor: cursorOf(rows, limit) };
    },
  );
}
