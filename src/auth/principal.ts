import type { SessionEntry } from "../sessions/cache.js";

/**
 * The kinds of principal Bulwark knows. Open for extension: a capability (or an embedding app, or a
 * test) adds one with
 *
 *   declare module "bulwark" { interface PrincipalKinds { api_key: true } }
 *
 * and registers a credential resolver for it (`ctx.guard.addCredential`).
 */
export interface PrincipalKinds {
  /** A tenant user's portal session (cookie); an impersonating admin's session is one too, marked. */
  user: true;
  /** A platform admin's session (its own cookie, AUTH-6). */
  admin: true;
}
export type PrincipalKind = keyof PrincipalKinds & string;

/**
 * Where a principal may act:
 * - `memberships`: in the organisations its user belongs to, with the role held there (sessions).
 * - `organisation`: in one organisation only, with exactly the listed scopes (API keys, access tokens;
 *   a token also only as far as its user's role there allows).
 * - `platform`: on no tenant at all (platform admins).
 */
export type Tenancy =
  | { readonly kind: "memberships" }
  | {
      readonly kind: "organisation";
      readonly orgId: string;
      readonly scopes: ReadonlySet<string>;
      /**
       * The credential acts for its user (an access token): the user must still be a member, and their
       * role must hold the action too. Absent: the credential is the organisation's own (an API key).
       */
      readonly member?: true;
    }
  | { readonly kind: "platform" };

/**
 * Who is calling, whatever the credential: every credential resolver produces one of these, and every
 * check of the guard pipeline reads only this. A principal is immutable and lives for one request.
 */
export interface Principal {
  readonly kind: PrincipalKind;
  /** The principal's id: `usr_…` for a user, `adm_…` for an admin, `key_…` for an API key. */
  readonly id: string;
  /** The human behind it, when there is one (the user of a session or token, the creator of a key). */
  readonly userId: string | undefined;
  readonly email: string | null;
  readonly tenancy: Tenancy;
  /** `cookie`: the browser sends it by itself, so CSRF checks apply. `header`: the caller set it on purpose. */
  readonly via: "cookie" | "header";
  /** The admin acting as this user (AUTHZ-4), when the session is an impersonation. */
  readonly impersonator: string | undefined;
  /** The session behind a session principal (portal or admin): sign-out, session lists, re-auth. */
  readonly session: SessionEntry | undefined;
}
