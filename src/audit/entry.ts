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
 * Written with loops, not map and join: every audited change serialises its entry once.
 */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== "object") {
    const s = JSON.stringify(value);
    return s === undefined ? "null" : s;
  }
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += (i === 0 ? "" : ",") + canonical(value[i]);
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  let out = "{";
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined) continue;
    out += `${out.length === 1 ? "" : ","}${JSON.stringify(k)}:${canonical(v)}`;
  }
  return `${out}}`;
}

const str = (s: string | null): string => (s === null ? "null" : JSON.stringify(s));

/**
 * `canonical(entry)`, with the entry's own keys written in their sorted order rather than sorted on
 * every call (its free-form parts, before, after, metadata and request, go through `canonical`). The
 * two agree byte for byte (entry.test.ts).
 */
export function entryText(e: AuditEntry): string {
  // An entity missing a part has that key left out by canonical: leave such an entry to it.
  if (e.entity !== null && (e.entity.id === undefined || e.entity.type === undefined)) return canonical(e);
  const entity = e.entity === null ? "null" : `{"id":${str(e.entity.id)},"type":${str(e.entity.type)}}`;
  return (
    `{"action":${str(e.action)},"actor":{"email":${str(e.actor.email)},"id":${str(e.actor.id)},"type":${str(e.actor.type)}}` +
    `,"after":${canonical(e.after)},"before":${canonical(e.before)},"entity":${entity},"id":${str(e.id)}` +
    `,"impersonator":${str(e.impersonator)},"log":${str(e.log)},"metadata":${canonical(e.metadata)}` +
    `,"org":${str(e.org)},"request":${canonical(e.request)},"seq":${e.seq},"time":${str(e.time)},"type":${str(e.type)},"v":${e.v}}`
  );
}
