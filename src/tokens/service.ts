import { randomBytes } from "node:crypto";
import type { AuditActor, AuditEvent } from "../audit/entry.js";
import type { AuditService } from "../audit/service.js";
import type { Database, Db } from "../db/database.js";
import { AppError } from "../http/errors.js";
import type { PermissionTable } from "../orgs/permissions.js";
import type { OrgService } from "../orgs/service.js";
import type { Stamp } from "../orgs/stamp.js";
import { newId, sha256 } from "../util/ids.js";
import { tokenEvents } from "./events.js";
import type { SigningKeys } from "./keys.js";
import type { RefreshTokenStore } from "./refresh-store.js";
import type { RefreshTokenRow, TokenFamilyRow } from "./tables.js";

/** What the access token's `typ` header says (RFC 9068's media type for JWT access tokens). */
export const ACCESS_TYP = "at+jwt";
/** Refresh tokens: `brt_` + 256 random bits, so secret scanners and people recognise them. */
const REFRESH_PREFIX = "brt_";
/** Changes that end a user's refresh-token families, and the reason recorded. */
const ENDS_FAMILIES: Readonly<Record<string, string>> = {
  "user.password_changed": "password_changed",
  "user.password_reset": "password_reset",
  // Only the bulk form ("end every other session"): its entity is the user, not one session.
  "session.revoked": "sessions_ended",
  "member.removed": "removed_from_organisation",
};

/** The family's user, as the actor of events a refresh request raises (it carries no session). */
const userActor = (family: TokenFamilyRow): AuditActor => ({ type: "USER", id: family.user_id, email: null });

/** Ended families are kept this long (a reuse within it is still recognised and audited as one). */
const PURGE_AFTER_MS = 7 * 86_400_000;

/** Verified access tokens remembered at once (a few MB at most). */
const VERIFIED_CACHE = 10_000;

export interface TokenSettings {
  /** `iss` of every token: this server's public URL. */
  readonly issuer: string;
  /** `aud` of every token: this server's API. A token for any other audience is refused. */
  readonly audience: string;
  readonly accessTtlMs: number;
  readonly refreshTtlMs: number;
}

/** A pair as the API answers it (RFC 6749 5.1 names, in camelCase like the rest of the API). */
export interface IssuedTokens {
  readonly accessToken: string;
  readonly tokenType: "Bearer";
  /** Seconds the access token is valid for. */
  readonly expiresIn: number;
  readonly refreshToken: string;
  readonly orgId: string;
  readonly scopes: readonly string[];
  /** Whose tokens these are: for the request's audit record, never in the answer (its schema omits it). */
  readonly userId: string;
}

/** What a verified access token says: whose it is, for which organisation, with which scopes. */
export interface AccessClaims {
  readonly userId: string;
  readonly orgId: string;
  readonly scopes: ReadonlySet<string>;
  readonly tokenId: string;
}

/**
 * Access and refresh tokens (AUTH-9). An access token is a JWT of ACCESS_TOKEN_TTL_MINUTES signed by
 * the current key, for one organisation and a set of scopes the user's role holds. A refresh token is
 * opaque and kept as its SHA-256; each use replaces it, atomically, with the next of its family, and a
 * used or revoked one presented again revokes the whole family and is audited (a stolen token is then
 * worth nothing to either holder). Issuance and revocation are in the organisation's audit log.
 */
export class TokenService {
  private readonly verified = new Map<string, { claims: AccessClaims; expiresAt: number; kid: string }>();

  constructor(
    private readonly db: Database,
    private readonly store: RefreshTokenStore,
    private readonly keys: SigningKeys,
    private readonly orgs: OrgService,
    private readonly permissions: PermissionTable,
    /** The actions of the routes an access token can call: the only scopes worth granting. */
    private readonly usable: () => readonly string[],
    private readonly audit: AuditService,
    private readonly settings: TokenSettings,
    private readonly clock: () => number = () => Date.now(),
  ) {}

  /**
   * The scopes a pair for this user and organisation would carry, or the refusal `issue` would give
   * (not a member: 404; a scope the role lacks: 403; an unknown scope: 400), without minting anything.
   */
  async check(userId: string, orgId: string, requested: readonly string[] | undefined): Promise<string[]> {
    const access = await this.orgs.access(orgId, userId);
    if (!access) throw new AppError("NOT_FOUND");
    const usable = this.usable();
    const unknown = requested?.filter((s) => !usable.includes(s)) ?? [];
    if (unknown.length)
      throw new AppError("VALIDATION_FAILED", undefined, [
        { field: "scopes", message: `Not a scope of this API: ${unknown.join(", ")}.` },
      ]);
    const scopes = requested
      ? [...new Set(requested)]
      : usable.filter((s) => this.permissions.can(access.role, s));
    const lacking = scopes.find((s) => !this.permissions.can(access.role, s));
    if (lacking) throw new AppError("FORBIDDEN", `Your role (${access.role}) does not allow ${lacking}.`);
    return scopes;
  }

  /**
   * Issues a pair for a member of `orgId` (from their session): a new family, which ends after
   * REFRESH_TOKEN_TTL_DAYS whatever its refreshes. Without `requested`, every scope their role holds;
   * otherwise exactly those, each one their role must hold.
   */
  async issue(userId: string, orgId: string, requested: readonly string[] | undefined, by: Stamp) {
    const scopes = await this.check(userId, orgId, requested);
    const now = this.clock();
    const family: TokenFamilyRow = {
      id: newId("tfm", now),
      user_id: userId,
      org_id: orgId,
      scopes: JSON.stringify(scopes),
      created_at: now,
      expires_at: now + this.settings.refreshTtlMs,
      revoked_at: null,
      revoked_reason: null,
    };
    const { row, token } = this.mint(family.id, now);
    await this.db.global.transaction().execute(async (tx) => {
      await this.store.insertFamily(tx, family);
      await this.store.insert(tx, row);
      await this.audit.record(tx, by(tokenEvents.issued(family)));
    });
    return this.pair(family, scopes, token, now);
  }

  /**
   * Exchanges a refresh token for a new pair, with its family locked. Exactly one of concurrent
   * exchanges of one token wins; a token already used revokes its family (audited); an unknown token,
   * or one of a revoked or ended family, answers REFRESH_TOKEN_INVALID. A user no longer a member gets
   * nothing, and the family ends. Scopes never exceed the role the user holds today.
   */
  async refresh(token: string, by: Stamp): Promise<IssuedTokens> {
    const now = this.clock();
    const found = token.startsWith(REFRESH_PREFIX)
      ? await this.store.byHash(this.db.global, sha256(token))
      : undefined;
    if (!found) throw new AppError("REFRESH_TOKEN_INVALID");
    const owner = await this.db.global
      .selectFrom("token_families")
      .select(["user_id", "org_id"])
      .where("id", "=", found.family_id)
      .executeTakeFirst();
    // Read before the transaction: on SQLite it holds the one connection the read would wait for.
    const access = owner ? await this.orgs.access(owner.org_id, owner.user_id) : undefined;
    const outcome = await this.db.global.transaction().execute(async (tx) => {
      const family = await this.store.lockFamily(tx, found.family_id);
      if (!family || family.revoked_at !== null || family.expires_at <= now) return undefined;
      if (!(await this.store.use(tx, found.id, now))) {
        await this.store.revokeFamily(tx, family.id, now, "reuse");
        await this.audit.record(
          tx,
          by({ ...tokenEvents.reused(family, found.id), actor: userActor(family) }),
        );
        return undefined;
      }
      if (!access) {
        await this.store.revokeFamily(tx, family.id, now, "not_member");
        await this.audit.record(
          tx,
          by({ ...tokenEvents.revoked(family, "not_member"), actor: userActor(family) }),
        );
        return undefined;
      }
      const next = this.mint(family.id, now);
      await this.store.insert(tx, next.row);
      // Never more than the role holds today: a demoted member's next token carries less.
      const scopes = (JSON.parse(family.scopes) as string[]).filter((s) =>
        this.permissions.can(access.role, s),
      );
      return { family, scopes, token: next.token };
    });
    if (!outcome) throw new AppError("REFRESH_TOKEN_INVALID");
    return this.pair(outcome.family, outcome.scopes, outcome.token, now);
  }

  /** Revokes the family of a refresh token (RFC 7009 style: an unknown token is not an error). */
  async revoke(token: string, by: Stamp): Promise<void> {
    if (!token.startsWith(REFRESH_PREFIX)) return;
    const found = await this.store.byHash(this.db.global, sha256(token));
    if (!found) return;
    const now = this.clock();
    await this.db.global.transaction().execute(async (tx) => {
      const family = await this.store.lockFamily(tx, found.family_id);
      if (family && (await this.store.revokeFamily(tx, family.id, now, "revoked")))
        await this.audit.record(
          tx,
          by({ ...tokenEvents.revoked(family, "revoked"), actor: userActor(family) }),
        );
    });
  }

  /**
   * Ends a user's families in the transaction of the change that calls for it (an audit tap): a password
   * changed or reset, every other session ended, a removal from an organisation (that one only).
   */
  async onEvents(tx: Db, events: readonly AuditEvent[]): Promise<void> {
    const now = this.clock();
    for (const e of events) {
      const reason = ENDS_FAMILIES[e.action];
      const userId = e.entity?.id;
      if (!reason || !userId || (e.action === "session.revoked" && e.entity?.type !== "user")) continue;
      const orgId = e.action === "member.removed" ? e.orgId : undefined;
      if (e.action === "member.removed" && !orgId) continue;
      const ended = await this.store.revokeFamiliesOf(tx, userId, orgId, now, reason);
      if (ended.length)
        await this.audit.record(
          tx,
          ended.map((f) => ({
            ...tokenEvents.revoked(f, reason),
            actor: e.actor,
            impersonator: e.impersonator,
          })),
        );
    }
  }

  /**
   * Deletes families that ended (expired or revoked) more than a week ago, with their tokens: a reused
   * token of a purged family is then merely unknown (still refused). Returns how many went.
   */
  async purge(): Promise<number> {
    return this.store.purge(this.db.global, this.clock() - PURGE_AFTER_MS);
  }

  /**
   * Verifies an access token (signature, iss, aud, exp, typ); throws TokenRefused otherwise. A token
   * verified once is remembered by its exact text until it expires: its expiry and its key's
   * publication are checked again at every use, the signature (an ECDSA verification, most of the cost
   * of a Bearer request) is not. Bounded: past the limit it starts afresh.
   */
  async verifyAccess(token: string): Promise<AccessClaims> {
    const now = this.clock();
    const seen = this.verified.get(token);
    if (seen && now < seen.expiresAt && this.keys.verifies(seen.kid)) return seen.claims;
    const claims = await this.keys.verify(token, {
      issuer: this.settings.issuer,
      audience: this.settings.audience,
      typ: ACCESS_TYP,
    });
    const access: AccessClaims = {
      userId: String(claims.sub),
      orgId: String(claims.org_id),
      scopes: new Set(typeof claims.scope === "string" ? claims.scope.split(" ").filter(Boolean) : []),
      tokenId: String(claims.jti),
    };
    if (this.verified.size >= VERIFIED_CACHE) this.verified.clear();
    const kid = JSON.parse(Buffer.from(token.slice(0, token.indexOf(".")), "base64url").toString()).kid;
    this.verified.set(token, { claims: access, expiresAt: Number(claims.exp) * 1000, kid: String(kid) });
    return access;
  }

  private mint(familyId: string, now: number) {
    const token = `${REFRESH_PREFIX}${randomBytes(32).toString("base64url")}`;
    const row: RefreshTokenRow = {
      id: newId("rtk", now),
      family_id: familyId,
      token_hash: sha256(token),
      created_at: now,
      used_at: null,
    };
    return { row, token };
  }

  private async pair(
    family: TokenFamilyRow,
    scopes: readonly string[],
    refreshToken: string,
    now: number,
  ): Promise<IssuedTokens> {
    const accessToken = await this.keys.sign(
      {
        iss: this.settings.issuer,
        aud: this.settings.audience,
        sub: family.user_id,
        org_id: family.org_id,
        scope: scopes.join(" "),
        client_id: "bulwark",
        jti: newId("atk", now),
        iat: Math.floor(now / 1000),
        exp: Math.floor((now + this.settings.accessTtlMs) / 1000),
      },
      ACCESS_TYP,
    );
    return {
      accessToken,
      tokenType: "Bearer",
      expiresIn: Math.floor(this.settings.accessTtlMs / 1000),
      refreshToken,
      orgId: family.org_id,
      scopes,
      userId: family.user_id,
    };
  }
}
