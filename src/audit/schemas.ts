import { Type } from "@sinclair/typebox";
import { AppError } from "../http/errors.js";
import type { AuditFilter } from "./store.js";
import type { AuditCheckpointRow, AuditEventRow } from "./tables.js";

/** The audit API's schemas and the helpers its routes share (plugin.ts). */
export const tags = ["audit"];
export const AUD_ID = "^aud_[0-9A-Z]{26}$";
export const OrgParams = Type.Object({ orgId: Type.String({ maxLength: 40 }) });
export const Filters = {
  actor: Type.Optional(
    Type.String({
      pattern: "^[A-Za-z0-9_-]{1,64}$",
      description: "Actor id: usr_…, adm_…, key_…",
      examples: ["usr_01JF3Q5ZX9R7V2K8H4M6W1B3CD"],
    }),
  ),
  action: Type.Optional(Type.String({ pattern: "^[a-z0-9_.]{1,64}$", examples: ["member.role_changed"] })),
  entityType: Type.Optional(Type.String({ pattern: "^[A-Za-z0-9_.-]{1,64}$", examples: ["member"] })),
  // Any text an app gave as an entity id, but never a NUL (PostgreSQL cannot compare one).
  entityId: Type.Optional(
    Type.String({ pattern: "^[^\\u0000]{1,128}$", examples: ["usr_01JF3Q5ZX9R7V2K8H4M6W1B3CD"] }),
  ),
  from: Type.Optional(
    Type.String({
      format: "date-time",
      description: "From this instant (inclusive).",
      examples: ["2026-12-01T00:00:00Z"],
    }),
  ),
  to: Type.Optional(
    Type.String({
      format: "date-time",
      description: "Before this instant.",
      examples: ["2027-01-01T00:00:00Z"],
    }),
  ),
};
export const Page = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  cursor: Type.Optional(
    Type.String({
      pattern: "^[A-Za-z0-9_-]{1,200}$",
      description: "`nextCursor` of the previous page.",
      examples: [
        Buffer.from("org_01JF3Q5ZX9R7V2K8H4M6W1B3CD~42~aud_01JF3Q5ZX9R7V2K8H4M6W1B3CD").toString("base64url"),
      ],
    }),
  ),
};
/** An entry: its documented fields (docs/audit.md); before, after and metadata are free-form objects. */
export const Entry = Type.Object(
  {
    v: Type.Integer(),
    log: Type.String(),
    seq: Type.Integer(),
    id: Type.String(),
    time: Type.String(),
    type: Type.String(),
    action: Type.String(),
    actor: Type.Optional(Type.Object({ type: Type.String(), id: Nullable(), email: Nullable() })),
    impersonator: Type.Optional(Nullable()),
    org: Type.Optional(Nullable()),
    entity: Type.Optional(Type.Union([Type.Object({ type: Type.String(), id: Type.String() }), Type.Null()])),
    before: Type.Optional(Type.Unknown()),
    after: Type.Optional(Type.Unknown()),
    metadata: Type.Optional(Type.Unknown()),
    request: Type.Optional(Type.Unknown()),
    purged: Type.Optional(Type.Boolean({ description: "Retention dropped the content; the leaf remains." })),
  },
  { additionalProperties: false },
);
export const Checkpoint = Type.Object({
  size: Type.Integer(),
  root: Type.String({ description: "Merkle root, base64." }),
  keyId: Type.String(),
  note: Type.String({ description: "The C2SP tlog-checkpoint signed note." }),
  createdAt: Type.String(),
});

export function Nullable() {
  return Type.Union([Type.String(), Type.Null()]);
}

export const b64 = (h: string) => Buffer.from(h, "hex").toString("base64");
export const cp = (c: AuditCheckpointRow) => ({
  size: c.size,
  root: b64(c.root),
  keyId: c.key_id,
  note: c.note,
  createdAt: new Date(c.created_at).toISOString(),
});

/** Cursor: the last row's log, seq and id, opaque to clients (one log pages by seq, all logs by id). */
export function cursorOf(rows: readonly AuditEventRow[], limit: number): string | null {
  const last = rows[rows.length - 1];
  if (rows.length < limit || !last) return null;
  return Buffer.from(`${last.log_id}~${last.seq}~${last.id}`).toString("base64url");
}
export function parseCursor(c: string | undefined): { log: string; seq: number; id: string } | undefined {
  if (c === undefined) return undefined;
  const m = /^([A-Za-z0-9_]{1,64})~(\d{1,15})~(aud_[0-9A-Z]{26})$/.exec(
    Buffer.from(c, "base64url").toString(),
  );
  if (!m) throw new AppError("BAD_REQUEST", "The cursor is not one this API gave out.");
  return { log: m[1]!, seq: Number(m[2]), id: m[3]! };
}
export function filterOf(q: { [K in keyof typeof Filters]?: string }, log?: string): AuditFilter {
  const from = q.from === undefined ? undefined : Date.parse(q.from);
  const to = q.to === undefined ? undefined : Date.parse(q.to);
  return { log, actor: q.actor, action: q.action, entityType: q.entityType, entityId: q.entityId, from, to };
}
