import { hkdfSync } from "node:crypto";
import type Provider from "oidc-provider";
import type { FindAccount, KoaContextWithOIDC } from "oidc-provider";
import type { Capability } from "../capability.js";
import type { PersonalData } from "../privacy/personal.js";
import { oidcAdapter } from "./adapter.js";
import { mountProvider } from "./bridge.js";
import { OidcInteractions } from "./interactions.js";
import { oidcMigrations } from "./migrations.js";
import { oidcRoutes } from "./plugin.js";
import { buildProvider } from "./provider.js";
import { OidcClientService } from "./service.js";
import { OidcClientStore, OidcStateStore } from "./store.js";

declare module "../context.js" {
  interface Services {
    oidcClients: OidcClientService;
  }
}

/** The client a revoked grant belonged to: from the token or code being used, or the session's own record. */
function grantClient(oidc: KoaContextWithOIDC, grantId: string): string | undefined {
  const e = oidc.oidc?.entities ?? {};
  for (const token of [e.RefreshToken, e.AuthorizationCode, e.AccessToken] as Array<
    { grantId?: string; clientId?: string } | undefined
  >)
    if (token?.grantId === grantId && token.clientId) return token.clientId;
  const authorizations = (oidc.oidc?.session?.authorizations ?? {}) as Record<string, { grantId?: string }>;
  return Object.entries(authorizations).find(([, a]) => a.grantId === grantId)?.[0];
}

/** Why the provider revoked a grant, from the request that made it. */
function reasonOf(oidc: KoaContextWithOIDC): string {
  const route = oidc.oidc?.route;
  if (route === "token")
    return oidc.oidc?.params?.grant_type === "authorization_code" ? "code_reused" : "refresh_token_reused";
  if (route === "revocation") return "revoked";
  if (route === "end_session_confirm" || route === "end_session") return "signed_out";
  return String(route);
}

/**
 * The OpenID Connect provider (AUTH-10): `oidc-provider` behind Bulwark's HTTP layer, its state in
 * Bulwark's database, its clients registered per organisation, its ID tokens signed by the token signing
 * keys (one JWKS, rotated together: a new provider is built when the keys change), its sign-in and
 * consent on the console's hosted page.
 */
export function oidcCapability(options: { clock?: () => number } = {}): Capability {
  return {
    name: "oidc",
    personalData: [
      { table: "oidc_clients", column: "created_by", omit: ["secret_hash"], erase: "pseudonymise" },
      // The provider's grants, sessions and tokens name the account inside their payload; an id may be
      // the token itself.
      { table: "oidc_state", column: "payload", match: "mentions", omit: ["id", "payload", "uid"] },
    ] satisfies PersonalData[],
    migrations: oidcMigrations,
    async register(app, ctx) {
      const clock = options.clock ?? (() => Date.now());
      const { config } = ctx;
      const audit = ctx.service("audit");
      const orgs = ctx.service("orgs");
      const mfa = ctx.service("mfa");
      const identity = ctx.service("identity");
      const sessions = ctx.service("sessions");
      const keys = ctx.service("signingKeys");
      const clientStore = new OidcClientStore();
      const state = new OidcStateStore();
      const clients = new OidcClientService(ctx.db, clientStore, audit, clock);
      ctx.provide("oidcClients", clients);

      /**
       * The account behind a `sub`, for the client asking: only a member of the client's organisation
       * (enrolled in MFA when it requires it), checked again at every token refresh and userinfo call,
       * so a removed member's app sign-in stops at its next use.
       */
      /** The user's access in the organisation, if they may sign in to its apps (MFA where it requires it). */
      const memberAccess = async (orgId: string, userId: string) => {
        const access = await orgs.access(orgId, userId);
        return access && (!access.require_mfa || (await mfa.isEnabled(userId))) ? access : undefined;
      };
      const member = async (orgId: string, userId: string) =>
        (await memberAccess(orgId, userId)) !== undefined;
      const findAccount: FindAccount = async (oidc, sub) => {
        const user = await identity.findUser(sub);
        const orgId = oidc.oidc.client?.metadata().org_id as string | undefined;
        const access = user && orgId ? await memberAccess(orgId, sub) : undefined;
        if (!user || !orgId || !access) return undefined;
        return {
          accountId: sub,
          claims: () => ({
            sub,
            email: user.email,
            email_verified: user.email_verified_at !== null,
            ...(user.name ? { name: user.name } : {}),
            org_id: orgId,
            org_role: access.role,
          }),
        };
      };

      const cookieKey = Buffer.from(
        hkdfSync("sha256", config.secret, "bulwark", "oidc-provider cookies v1", 32),
      ).toString("base64url");
      /**
       * A grant ended by the protocol (a code or refresh token used twice, a revocation, a sign-out), in
       * the log of the organisation whose client the grant was for: found from the grant, never from
       * whichever client the request named, so no request files an event in another organisation's log.
       */
      const grantEnded = async (
        clientId: string,
        grantId: string,
        reason: string,
        requestId: string | null,
      ) => {
        const client = await clientStore.byId(ctx.db.global, clientId);
        if (!client) return;
        audit.recordSoon({
          action: "oidc.grant_revoked",
          actor: { type: "SYSTEM", id: null, email: null },
          orgId: client.org_id,
          entity: { type: "oidc_client", id: client.id },
          metadata: { grantId, reason, requestId },
        });
      };
      const adapter = oidcAdapter(
        ctx.db,
        clientStore,
        state,
        clock,
        (clientId, grantId, model) =>
          void grantEnded(
            clientId,
            grantId,
            model === "RefreshToken" ? "refresh_token_reused" : "code_reused",
            null,
          ),
      );
      let built: { version: string; provider: Provider } | undefined;
      /** The provider for the keys published now (rebuilt after a rotation; its state is all in the database). */
      const current = async (): Promise<Provider> => {
        await keys.fresh();
        const version = keys.version();
        if (built?.version !== version) {
          const provider = buildProvider({
            issuer: config.publicUrl,
            keys: keys.privateJwks(),
            cookieKeys: [cookieKey],
            adapter,
            findAccount,
            member,
            signedInAs: (req) => sessions.portalUser(req.headers.cookie),
            ttl: {
              accessToken: config.tokens.accessTtlMs / 1000,
              refreshToken: config.tokens.refreshTtlMs / 1000,
              session: config.auth.sessionAbsoluteMs / 1000,
            },
          });
          provider.on("server_error", (_ctx, err: Error) =>
            ctx.log.error({ reason: err.message }, "OpenID provider error"),
          );
          provider.on("grant.revoked", (oidc, grantId: string) => {
            const clientId = grantClient(oidc, grantId);
            if (clientId)
              void grantEnded(clientId, grantId, reasonOf(oidc), oidc.get("x-request-id") || null);
          });
          built = { version, provider };
        }
        return built.provider;
      };
      const interactions = new OidcInteractions(
        () => {
          if (!built) throw new Error("the OpenID provider is built at start-up");
          return built.provider;
        },
        ctx.db,
        clients,
        orgs,
        identity,
        mfa,
        audit,
      );
      mountProvider(app, current, config.publicUrl, !config.production);
      await app.register(oidcRoutes, { clients, interactions });

      app.addHook("onReady", async () => {
        await keys.ensure();
        await current();
      });
      ctx
        .service("jobs")
        .schedule("oidc.purge", { everyMs: 3_600_000 }, () => state.purge(ctx.db.global, clock()));

      ctx.posture.register({
        id: "AUTH-10",
        title: "OpenID Connect provider",
        claim: `Bulwark is an OpenID Connect provider (oidc-provider, OpenID certified) at ${config.publicUrl}: the authorization code flow only, with PKCE S256 required of every client (plain and missing challenges are refused); ID tokens are ES256, signed by the keys published at /.well-known/jwks.json, with the client as their only audience. Clients are registered per organisation with exact redirect URIs (HTTPS, or HTTP to this machine), and only that organisation's members sign in to them, through Bulwark's own sign-in and a hosted page that names the app; an app's new sign-in needs a live Bulwark session of that person, so signing out of Bulwark ends the silent sign-in to its apps. Refresh tokens are replaced on every use, and a used one presented again, even at the same moment, revokes the grant; a removed member's tokens stop at their next refresh or introspection. Introspection and revocation answer only clients of the token's organisation (a public client: its own tokens).`,
        settings: { algorithm: "ES256", pkce: "S256 required", responseTypes: ["code"] },
        enabled: true,
      });
    },
  };
}
