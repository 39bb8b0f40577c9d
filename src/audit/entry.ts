import { redactDeep } from "../log/redact.js";

/** Who acted (AUDIT-1): the five actor types of the log's schema. */
export type ActorType = "USER" | "ADMIN" | "API_KEY" | "SYSTEM" | "ANONYMOUS";

export interface AuditActor {
  readonly type: ActorType;
  readonly id: string | null;
  readonly email: string | null;
}

/** The HTTP facts of a request record (AUDIT-1). */
export interface RequestFacts {
  readonly method: string;
  readonly route: string;
  readonly status: number;
  readonly durationMs: number;
  readonly ip: string;
  readonly userAgent: string | null;
  readonly requestId: string;
}

/** What a capability, an extension or an app records: a domain event (AUDIT-2). */
export interface AuditEvent {
  /** `entity.verb`, lower case: `member.role_changed`, `apikey.created`, `product.created`. */
  readonly action: string;
  readonly actor: AuditActor;
  /** The organisation whose log receives it; undefined: the platform log (sign-ins, admin actions). */
  readonly orgId?: string | undefined;
  readonly impersonator?: string | null | undefined;
  readonly entity?: { readonly type: string; readonly id: string } | null | undefined;
  readonly before?: Readonly<Record<string, unknown>> | null | undefined;
  readonly after?: Readonly<Record<string, unknown>> | null | undefined;
  readonly metadata?: Readonly<Record<string, unknown>> | null | undefined;
  /** Set on request records only. */
  readonly request?: RequestFacts | undefined;
}

/** The log of the platform itself: events that belong to no organisation. */
export const PLATFORM_LOG = "platform";

/** The id of the log an event belongs to. */
export function logOf(event: Pick<AuditEvent, "orgId">): string {
  return event.orgId ?? PLATFORM_LOG;
}

/**
 * An entry as stored and hashed, schema version 1. The leaf of the log's Merkle tree is the hash of
 * exactly these bytes (`canonical`), so a verifier needs no knowledge of the schema to check them.
 */
export interface AuditEntry {
  readonly v: 1;
  readonly log: string;
  /** The entry's leaf index in its log's tree, from 0. */
  readonly seq: number;
  readonly id: string;
  /** ISO 8601, milliseconds, UTC. */
  readonly time: string;
  readonly type: "request" | "event";
  readonly action: string;
  readonly actor: AuditActor;
  readonly impersonator: string | null;
  readonly org: string | null;
  readonly entity: { readonly type: string; readonly id: string } | null;
  readonly before: unknown;
  readonly after: unknown;
  readonly metadata: unknown;
  readonly request: RequestFacts | null;
}

/** Builds the entry for `event` at position `seq` of `log`; secrets in before, after and metadata redacted. */
export function entryOf(event: AuditEvent, log: string, seq: number, id: string, time: number): AuditEntry {
  return {
    v: 1,
    log,
    seq,
    id,
    time: new Date(time).toISOString(),
    type: event.request ? "request" : "event",
    action: event.action,
    actor: { type: event.actor.type, id: event.actor.id ?? null, email: event.actor.email ?? null },
    impersonator: event.impersonator ?? null,
    org: event.orgId ?? null,
    entity: event.entity ? { type: event.entity.type, id: event.entity.id } : null,
    before: event.before ? redactDeep(event.before) : null,
    after: event.after ? redactDeep(event.after) : null,
    metadata: event.metadata ? redactDeep(event.metadata) : null,
    request: event.request ?? null,
  };
}

/**
 * The canonical bytes of a value: JSON with object keys sorted by UTF-16 code units at every depth, no
 * whitespace, as RFC 8785 (JCS) writes the strings, integers, booleans and nulls entries hold. Entries
 * carry no floats but `durationMs`, which JSON.stringify writes as JCS does (shortest round-trip form).
 */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== "object") {
    const s = JSON.stringify(value);
    return s === undefined ? "null" : s;
  }
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`).join(",")}}`;
}
