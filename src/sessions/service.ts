import { createHmac } from "node:crypto";
import { setImmediate } from "node:timers/promises";
import type { AuditEvent } from "../audit/entry.js";
import type { AuditService } from "../audit/service.js";
import type { Config } from "../config/load.js";
import { newId, newSecret, safeEqual, sha256 } from "../util/ids.js";
import { SessionCache, type SessionEntry } from "./cache.js";
import { cookieName, readCookie } from "./cookies.js";
import type { EndedImpersonation, SessionStore } from "./store.js";
import type { SessionRow } from "./tables.js";

/** Writing last_seen on every request would make every read a write; once a minute is precise enough. */
const TOUCH_EVERY_MS = 60_000;

export interface SessionInfo {
  readonly id: string;
  readonly userAgent: string | null;
  readonly ip: string | null;
  readonly createdAt: string;
  readonly lastSeenAt: string;
  readonly current: boolean;
  /** Set on a session a platform admin opened to act as the user (AUTHZ-4): the admin's id. */
  readonly impersonatedBy: string | null;
}

/**
 * The audit events of a session change, built by the caller (who knows why it happened: a sign-in, a
 * sign-out, an impersonation) from what changed; undefined records nothing.
 */
export type SessionEvents<T> = (changed: T) => AuditEvent | readonly AuditEvent[] | undefined;

/** Rows a retention pass deletes per statement. */
const PURGE_BATCH = 5000;

/**
 * Server-side sessions (AUTH-5). The cookie carries a 256-bit random token; the database keeps only its
 * SHA-256, so a leaked table opens no session. A session ends at its absolute lifetime, after the idle
 * timeout, or when revoked (deleted), and the next request sees it: there is no cache to go stale.
 */
export class SessionService {
  private readonly csrfKey: Buffer;

  constructor(
    private readonly store: SessionStore,
    private readonly config: Config,
    private readonly audit: AuditService,
    private readonly now: () => number = () => Date.now(),
    private readonly cache: SessionCache = new SessionCache(),
  ) {
    this.csrfKey = createHmac("sha256", config.secret).update("bulwark/csrf/v1").digest();
  }

  /**
   * Deletes the rows of sessions that ended more than RETENTION_SESSIONS_DAYS ago (GDPR-3), at their
   * absolute end or by idling: a session's IP address and user agent are kept that long after it stops
   * working, no longer. Revoked sessions are deleted at once already. In batches, yielding between them
   * (SQLite answers synchronously). Returns how many went.
   */
  async purgeEnded(): Promise<number> {
    const before = this.now() - this.config.retention.sessionsDays * 86_400_000;
    let total = 0;
    for (;;) {
      const n = await this.store.purge(before, this.config.auth.sessionIdleMs, PURGE_BATCH);
      total += n;
      if (n < PURGE_BATCH) return total;
      await setImmediate();
    }
  }

  /**
   * Runs `change` on the store, and, when `events` are given, in one transaction with the audit record
   * of its outcome (AUDIT-2): both commit or neither. The record is the transaction's last write, so
   * the log's head is locked only as long as the commit takes, and always after the session rows.
   */
  private async write<T>(change: (store: SessionStore) => Promise<T>, events?: SessionEvents<T>): Promise<T> {
    if (!events) return change(this.store);
    return this.store.transaction(async (store, tx) => {
      const result = await change(store);
      const recorded = events(result);
      if (recorded) await this.audit.record(tx, recorded);
      return result;
    });
  }

  /**
   * Creates a session; the returned token goes in the cookie and nowhere else. `record` builds the audit
   * events of the sign-in (or impersonation) it opens, written with the session row.
   */
  async create(
    userId: string,
    kind: SessionRow["kind"],
    client: { ip: string; userAgent: string | undefined },
    options: {
      impersonatorId?: string;
      ttlMs?: number;
      record?: SessionEvents<SessionRow>;
      /** False: the sign-in proved no password (a passkey), so sensitive operations ask for it first. */
      passwordProved?: boolean;
    } = {},
  ): Promise<{ token: string; row: SessionRow; familiar: boolean }> {
    const now = this.now();
    const userAgent = client.userAgent?.slice(0, 256) ?? null;
    // A sign-in from a device and address the account already has a live session on is "familiar";
    // anything else earns the owner a new-sign-in notice.
    const live = await this.store.listForUser(userId, kind, now);
    const familiar = live.some((s) => s.ip === client.ip && s.user_agent === userAgent);
    const token = newSecret(kind === "admin" ? "bwa" : "bws");
    const row: SessionRow = {
      id: sha256(token),
      public_id: newId("ses", now),
      user_id: userId,
      kind,
      created_at: now,
      last_seen_at: now,
      expires_at: now + (options.ttlMs ?? this.config.auth.sessionAbsoluteMs),
      // A sign-in proves the password, so it opens the re-auth window (AUTH-14). An impersonation proves
      // nothing of the user's (AUTHZ-4): it never counts as recently re-authenticated.
      reauth_at: options.impersonatorId || options.passwordProved === false ? 0 : now,
      ip: client.ip,
      user_agent: userAgent,
      impersonator_id: options.impersonatorId ?? null,
    };
    const { record } = options;
    await this.write((store) => store.insert(row), record && (() => record(row)));
    return { token, row, familiar };
  }

  /**
   * The live session for a cookie token of this kind, or null (unknown, wrong kind, expired, idle).
   * Served from the session cache when possible; expiry and idle time are checked either way.
   */
  async validate(token: string, kind: SessionRow["kind"]): Promise<SessionEntry | null> {
    const id = sha256(token);
    const now = this.now();
    let row = this.cache.get(id, now);
    if (!row) {
      row = await this.store.find(id);
      if (!row) return null;
      this.cache.set(row, now);
    }
    if (row.kind !== kind) return null;
    if (now >= row.expires_at || now - row.last_seen_at >= this.config.auth.sessionIdleMs) {
      await this.store.delete(row.id);
      this.cache.dropSession(row.id);
      return null;
    }
    if (now - row.last_seen_at >= TOUCH_EVERY_MS) {
      await this.store.touch(row.id, now);
      row.last_seen_at = now;
    }
    return row;
  }

  /**
   * The user of the live portal session a Cookie header carries, or undefined; an impersonation does not
   * count (an admin acting as someone never signs them in elsewhere). For protocols Bulwark hosts beside
   * its own routes (the OpenID provider), whose requests do not pass the guard pipeline.
   */
  async portalUser(cookieHeader: string | undefined): Promise<string | undefined> {
    const token = readCookie(cookieHeader, cookieName(this.config, "portal"));
    const session = token
      ? (this.validateCached(token, "portal") ?? (await this.validate(token, "portal")))
      : null;
    return session && !session.impersonator_id ? session.user_id : undefined;
  }

  /**
   * The synchronous fast path of `validate`: a cached session of this kind that is live and needs no
   * write. Undefined means "ask `validate`", which also handles every refusal.
   */
  validateCached(token: string, kind: SessionRow["kind"]): SessionEntry | undefined {
    const now = this.now();
    const row = this.cache.get(sha256(token), now);
    if (!row || row.kind !== kind) return undefined;
    if (now >= row.expires_at || now - row.last_seen_at >= TOUCH_EVERY_MS) return undefined;
    return row;
  }

  /** Marks a fresh password (or second-factor) proof on the session: opens the re-auth window (AUTH-14). */
  async reauthenticated(row: SessionRow): Promise<void> {
    const now = this.now();
    await this.store.setReauth(row.id, now);
    // The cached row is the same object the guard handed out: keep it in step.
    row.reauth_at = now;
    row.last_seen_at = now;
  }

  isRecentlyAuthenticated(row: SessionRow): boolean {
    return this.now() - row.reauth_at < this.config.auth.reauthMs;
  }

  /**
   * Revocation is effective on the next request, on every node (the cache entry is dropped everywhere,
   * after the commit: a node reading the row before it would otherwise cache it again). `record`: the
   * event written with the deletion (a sign-out).
   */
  async revoke(row: SessionRow, options: { record?: AuditEvent } = {}): Promise<void> {
    const { record } = options;
    await this.write((store) => store.delete(row.id), record && (() => record));
    this.cache.dropSession(row.id);
  }

  /** Revokes one of the user's sessions by its public id; false if there is none such. */
  async revokeByPublicId(
    userId: string,
    kind: SessionRow["kind"],
    publicId: string,
    options: { record?: SessionEvents<SessionRow> } = {},
  ): Promise<boolean> {
    const { record } = options;
    const found = await this.write(
      (store) => store.deleteByPublicId(userId, kind, publicId),
      record && ((row) => (row ? record(row) : undefined)),
    );
    if (found) this.cache.dropPrincipal(userId);
    return found !== undefined;
  }

  /** Drops the cached sessions of a principal here and on every node (its public fields changed). */
  forget(principalId: string): void {
    this.cache.dropPrincipal(principalId);
  }

  /** The impersonation an admin is running now, if any (the admin console shows it). */
  currentImpersonation(adminId: string): Promise<SessionRow | undefined> {
    return this.store.latestImpersonation(adminId, this.now());
  }

  /**
   * Ends every impersonation session an admin opened (AUTHZ-4); returns the users acted as. `record`
   * builds the stop events from the sessions ended (none: nothing is recorded).
   */
  async revokeImpersonations(
    adminId: string,
    options: { record?: SessionEvents<EndedImpersonation[]> } = {},
  ): Promise<string[]> {
    const { record } = options;
    const ended = await this.write(
      (store) => store.deleteImpersonations(adminId),
      record && ((rows) => (rows.length ? record(rows) : undefined)),
    );
    const users = [...new Set(ended.map((e) => e.userId))];
    for (const u of users) this.cache.dropPrincipal(u);
    return users;
  }

  /**
   * Revokes every session of the user of that kind, except `keep` when given; returns how many.
   * `record` builds the event from that count (none revoked: nothing is recorded).
   */
  async revokeAll(
    userId: string,
    kind: SessionRow["kind"],
    options: { keep?: SessionRow; record?: SessionEvents<number> } = {},
  ): Promise<number> {
    const { keep, record } = options;
    const n = await this.write(
      (store) => store.deleteAllForUser(userId, kind, keep?.id),
      record && ((count) => (count > 0 ? record(count) : undefined)),
    );
    this.cache.dropPrincipal(userId);
    return n;
  }

  async list(current: SessionRow): Promise<SessionInfo[]> {
    const rows = await this.store.listForUser(current.user_id, current.kind, this.now());
    return rows.map((r) => ({
      id: r.public_id,
      userAgent: r.user_agent,
      ip: r.ip,
      createdAt: new Date(r.created_at).toISOString(),
      lastSeenAt: new Date(r.last_seen_at).toISOString(),
      current: r.id === current.id,
      impersonatedBy: r.impersonator_id,
    }));
  }

  /**
   * The CSRF token of a session: an HMAC of its id under a key derived from BULWARK_SECRET. It needs no
   * storage, changes with every session, and cannot be computed from the cookie without the secret.
   */
  csrfToken(row: SessionRow & { csrf?: string }): string {
    // Memoised on the (cached) row: an HMAC per request is measurable on the hottest authenticated path.
    row.csrf ??= createHmac("sha256", this.csrfKey).update(row.id).digest("base64url");
    return row.csrf;
  }

  checkCsrf(row: SessionRow, presented: string | undefined): boolean {
    return presented !== undefined && safeEqual(presented, this.csrfToken(row));
  }
}
