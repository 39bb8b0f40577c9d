import type { FastifyRequest } from "fastify";
import type { AuditService } from "../audit/service.js";
import type { Principal } from "../auth/principal.js";
import { AppError, type FieldError } from "../http/errors.js";
import type { PermissionTable } from "../orgs/permissions.js";
import type { Stamp } from "../orgs/stamp.js";
import { newId, sha256 } from "../util/ids.js";
import { IpAllowlist, parseIpEntry } from "./allowlist.js";
import type { ApiKeyCache, VerifiedKey } from "./cache.js";
import { keyEvents } from "./events.js";
import { displayPrefix, newApiKey } from "./format.js";
import type { ApiKeyStore } from "./store.js";
import type { ApiKeyRow } from "./tables.js";

export interface NewKey {
  readonly name: string;
  readonly scopes: readonly string[];
  readonly expiresAt?: number | null;
  readonly allowedOrigins?: readonly string[];
  readonly allowedIps?: readonly string[];
}

/** Who creates or rotates a key, and which scopes they may hand on (never one they do not hold). */
export interface KeyActor {
  readonly id: string;
  can(action: string): boolean;
}

/** Last-used times are written at most this often, for all keys used meanwhile (KEY-4: no write per request). */
export const LAST_USED_FLUSH_MS = 30_000;

const list = (json: string): string[] => JSON.parse(json) as string[];

/**
 * Organisation API keys (KEY-1…KEY-7). The full key exists only in the answer to create or rotate; the
 * database keeps its SHA-256 and 8 display characters. A key is live while now < expires_at and now <
 * revoked_at (a future revoked_at is a rotation's grace), checked on every request. Creation, rotation
 * and revocation are recorded in the organisation's audit log in the transaction that makes them
 * (AUDIT-2), stamped `by` the caller's request.
 */
export class ApiKeyService {
  private used = new Map<string, number>();

  constructor(
    private readonly store: ApiKeyStore,
    private readonly cache: ApiKeyCache,
    private readonly permissions: PermissionTable,
    /** The actions of the routes that accept an API key: the only scopes worth granting. */
    private readonly usable: () => readonly string[],
    private readonly audit: AuditService,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Creates a key; returns its row and the key itself, which is never seen again. */
  async create(
    orgId: string,
    actor: KeyActor,
    input: NewKey,
    by: Stamp,
  ): Promise<{ row: ApiKeyRow; key: string }> {
    const now = this.now();
    const clean = this.check(actor, input, now);
    const { row, key } = this.mint(orgId, actor.id, clean, now);
    await this.store.transaction(async (s, tx) => {
      await s.insert(row);
      await this.audit.record(tx, by(keyEvents.created(row)));
    });
    return { row, key };
  }

  /** Every scope a key can use: the actions of routes that accept API keys, an extension's included. */
  scopes(): readonly string[] {
    return this.usable();
  }

  list(orgId: string, limit: number, before?: string): Promise<ApiKeyRow[]> {
    return this.store.list(orgId, limit, before);
  }

  /**
   * Replaces a key (KEY-5): the new one works at once, with the same name, scopes, pins and expiry; the
   * old one keeps working for `graceMs` (0: refused from now), never beyond its own expiry. A key is
   * rotated once; a revoked, expired or already rotated key answers 404 / 409.
   */
  async rotate(orgId: string, id: string, actor: KeyActor, graceMs: number, by: Stamp) {
    const now = this.now();
    const old = await this.store.get(orgId, id);
    if (!old || !this.live(old, now)) throw new AppError("NOT_FOUND");
    if (old.rotated_to) throw new AppError("CONFLICT", "This key was already rotated; rotate its successor.");
    const scopes = list(old.scopes);
    const lost = scopes.find((s) => !actor.can(s));
    if (lost) throw new AppError("FORBIDDEN", `You cannot hand on the scope ${lost}, which you do not hold.`);
    const { row, key } = this.mint(
      orgId,
      actor.id,
      {
        name: old.name,
        scopes,
        expiresAt: old.expires_at,
        allowedOrigins: list(old.allowed_origins),
        allowedIps: list(old.allowed_ips),
      },
      now,
    );
    const graceEnds = Math.min(now + graceMs, old.expires_at ?? Number.POSITIVE_INFINITY);
    const ok = await this.store.transaction(async (s, tx) => {
      if (!(await s.end(orgId, id, graceEnds, now, row.id))) return false;
      await s.insert(row);
      await this.audit.record(tx, by(keyEvents.rotated(row, old, graceEnds)));
      return true;
    });
    if (!ok) throw new AppError("CONFLICT", "This key was already rotated; rotate its successor.");
    await this.cache.drop(id);
    return { row, key, graceEndsAt: graceEnds, old: { ...old, revoked_at: graceEnds, rotated_to: row.id } };
  }

  /** Revokes a key (KEY-4): refused from the next request on, on every node; ends a rotation's grace too. */
  async revoke(orgId: string, id: string, by: Stamp): Promise<void> {
    const now = this.now();
    const row = await this.store.transaction(async (s, tx) => {
      const found = await s.get(orgId, id);
      if (!found || !(await s.end(orgId, id, now, now))) return undefined;
      await this.audit.record(tx, by(keyEvents.revoked(found, now)));
      return found;
    });
    if (!row) throw new AppError("NOT_FOUND");
    // Awaited: the answer goes out only once every node has been told (OPS-4).
    await this.cache.drop(id);
  }

  /**
   * The key for a presented value (already checked for shape and checksum), live or not, or null when
   * no key has this hash. Served from the cache when possible.
   */
  lookup(key: string): VerifiedKey | null | Promise<VerifiedKey | null> {
    const hash = sha256(key);
    const now = this.now();
    const cached = this.cache.get(hash, now);
    if (cached) return cached;
    const generation = this.cache.generation;
    return this.store.byHash(hash).then((row) => {
      if (!row) return null;
      const verified = this.compile(row);
      this.cache.set(hash, verified, this.now(), generation);
      return verified;
    });
  }

  /**
   * The principal of a looked-up key for this request, or null when the key is expired, revoked or past
   * its rotation's grace (checked from the row on every request, to the millisecond). A live key must
   * also pass its pins: a browser `Origin` outside its allowed origins (CORS-3) and a caller outside its
   * IP allowlist (KEY-6) are refused with 403. A request without `Origin` is not a browser's cross-origin
   * call and is not origin-checked: the origin pin stops another site's page, the IP allowlist everyone
   * else. Every refusal is an event; a use is remembered for the batched last-used write.
   */
  admit(k: VerifiedKey, request: FastifyRequest): Principal | null {
    const now = this.now();
    const row = k.row;
    if (!this.live(row, now)) {
      this.denied(row, request, row.expires_at !== null && now >= row.expires_at ? "expired" : "revoked");
      return null;
    }
    const origin = request.headers.origin;
    if (k.origins.size > 0 && origin !== undefined && !k.origins.has(origin)) {
      this.denied(row, request, "origin");
      throw new AppError("API_KEY_ORIGIN_DENIED");
    }
    if (!k.ips.allows(request.ip)) {
      this.denied(row, request, "ip");
      throw new AppError("API_KEY_IP_DENIED");
    }
    this.used.set(row.id, now);
    return k.principal;
  }

  /** A refused use of a real key, on the request's logger (so with its request id) for the audit sink. */
  private denied(row: ApiKeyRow, request: FastifyRequest, reason: string): void {
    request.log.warn(
      {
        event: "apikey.denied",
        orgId: row.org_id,
        apiKeyId: row.id,
        prefix: row.prefix,
        reason,
        ip: request.ip,
      },
      "api key refused",
    );
  }

  /** Writes the last-used times gathered since the last flush (every LAST_USED_FLUSH_MS, and at close). */
  async flush(): Promise<void> {
    if (this.used.size === 0) return;
    const batch = this.used;
    this.used = new Map();
    await this.store.touch(batch);
  }

  /** The last-used time of a key, counting uses not yet written. */
  lastUsed(row: ApiKeyRow): number | null {
    return this.used.get(row.id) ?? row.last_used_at;
  }

  private live(row: ApiKeyRow, now: number): boolean {
    return (
      (row.revoked_at === null || now < row.revoked_at) && (row.expires_at === null || now < row.expires_at)
    );
  }

  private compile(row: ApiKeyRow): VerifiedKey {
    const principal: Principal = Object.freeze({
      kind: "api_key" as const,
      id: row.id,
      userId: undefined,
      email: null,
      tenancy: Object.freeze({
        kind: "organisation" as const,
        orgId: row.org_id,
        scopes: new Set(list(row.scopes)),
      }),
      via: "header" as const,
      impersonator: undefined,
      session: undefined,
    });
    return {
      row,
      principal,
      origins: new Set(list(row.allowed_origins)),
      ips: new IpAllowlist(list(row.allowed_ips)),
    };
  }

  private mint(orgId: string, actorId: string, k: Required<NewKey>, now: number) {
    const key = newApiKey();
    const row: ApiKeyRow = {
      id: newId("key", now),
      org_id: orgId,
      name: k.name,
      prefix: displayPrefix(key),
      hash: sha256(key),
      scopes: JSON.stringify(k.scopes),
      allowed_origins: JSON.stringify(k.allowedOrigins),
      allowed_ips: JSON.stringify(k.allowedIps),
      expires_at: k.expiresAt,
      revoked_at: null,
      rotated_to: null,
      created_by: actorId,
      created_at: now,
      last_used_at: null,
    };
    return { row, key };
  }

  /** Checks a new key's fields; every problem is reported at once, by field. */
  private check(actor: KeyActor, input: NewKey, now: number): Required<NewKey> {
    const problems: FieldError[] = [];
    const bad = (field: string, message: string) => problems.push({ in: "body", field, message });
    const name = input.name.trim();
    if (!name) bad("name", "must not be blank");
    const scopes = [...new Set(input.scopes)];
    const usable = new Set(this.usable());
    for (const s of scopes)
      if (!usable.has(s))
        bad(
          "scopes",
          this.permissions.has(s) ? `no route accepts an API key for ${s}` : `unknown scope ${s}`,
        );
    if (input.expiresAt != null && input.expiresAt <= now) bad("expiresAt", "must be in the future");
    const origins = [...new Set(input.allowedOrigins ?? [])];
    for (const o of origins)
      if (!isOrigin(o)) bad("allowedOrigins", `${o} is not an origin (scheme://host[:port])`);
    const ips: string[] = [];
    for (const e of input.allowedIps ?? []) {
      const parsed = parseIpEntry(e);
      if (parsed) ips.push(parsed);
      else bad("allowedIps", `${e} is not an IPv4 or IPv6 address or CIDR`);
    }
    if (problems.length) throw new AppError("VALIDATION_FAILED", undefined, problems);
    // Never more than the creator holds: a key is not a way to raise one's own rights.
    const lost = scopes.find((s) => !actor.can(s));
    if (lost) throw new AppError("FORBIDDEN", `You cannot grant the scope ${lost}, which you do not hold.`);
    return {
      name,
      scopes,
      expiresAt: input.expiresAt ?? null,
      allowedOrigins: origins,
      allowedIps: [...new Set(ips)],
    };
  }
}

/** `scheme://host[:port]`, nothing more: what a browser sends in `Origin`. */
function isOrigin(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === "https:" || u.protocol === "http:") && u.origin === value;
  } catch {
    return false;
  }
}
