import { hkdfSync } from "node:crypto";
import type Provider from "oidc-provider";
import type { FindAccount } from "oidc-provider";
import type { Capability } from "../capability.js";
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

/**
 * The OpenID Connect provider (AUTH-10): `oidc-provider` behind Bulwark's HTTP layer, its state in
 * Bulwark's database, its clients registered per organisation, its ID tokens signed by the token signing
 * keys (one JWKS, rotated together: a new provider is built when the keys change), its sign-in and
 * consent on the console's hosted page.
 */
export function oidcCapability(options: { clock?: () => number } = {}): Capability {
  return {
    name: "oidc",
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
      const member = async (orgId: string, userId: string) => {
        const access = await orgs.access(orgId, userId);
        return access !== undefined && (!access.require_mfa || (await mfa.isEnabled(userId)));
      };
      const findAccount: FindAccount = async (oidc, sub) => {
        const user = await identity.findUser(sub);
        const orgId = oidc.oidc.client?.metadata().org_id as string | undefined;
        if (!user || !orgId || !(await member(orgId, sub))) return undefined;
        const access = await orgs.access(orgId, sub);
        if (!access) return undefined;
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
      const adapter = oidcAdapter(ctx.db, clientStore, state, clock);
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
          // A grant ended by the protocol: a refresh token used twice (theft or replay), a revocation, a
          // sign-out. In the client's organisation's log, like the access tokens' reuse (AUTH-9).
          provider.on("grant.revoked", (oidc, grantId: string) => {
            const c = oidc.oidc?.client;
            const orgId = c?.metadata().org_id as string | undefined;
            if (!c || !orgId) return;
            const route = oidc.oidc?.route;
            audit.recordSoon({
              action: "oidc.grant_revoked",
              actor: { type: "SYSTEM", id: null, email: null },
              orgId,
              entity: { type: "oidc_client", id: c.clientId },
              metadata: {
                grantId,
                reason:
                  route === "token"
                    ? "refresh_token_reused"
                    : route === "revocation"
                      ? "revoked"
                      : String(route),
                requestId: oidc.get("x-request-id") || null,
              },
            });
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
      const jobs = ctx.service("jobs");
      const purge = setInterval(
        () => void jobs.run("oidc.purge", () => state.purge(ctx.db.global, clock())),
        3_600_000,
      );
      purge.unref();
      app.addHook("onClose", async () => clearInterval(purge));

      ctx.posture.register({
        id: "AUTH-10",
        title: "OpenID Connect provider",
        claim: `Bulwark is an OpenID Connect provider (oidc-provider, OpenID certified) at ${config.publicUrl}: the authorization code flow only, with PKCE S256 required of every client (plain and missing challenges are refused); ID tokens are ES256, signed by the keys published at /.well-known/jwks.json, with the client as their only audience. Clients are registered per organisation with exact redirect URIs (HTTPS, or HTTP to this machine), and only that organisation's members sign in to them, through Bulwark's own sign-in and a hosted page that names the app; an app's sign-in lasts only while the person's Bulwark session does. Refresh tokens are replaced on every use, and a used one presented again, even at the same moment, revokes the grant; a removed member's tokens stop at their next refresh or introspection. Introspection and revocation answer only clients of the token's organisation (a public client: its own tokens).`,
        settings: { algorithm: "ES256", pkce: "S256 required", responseTypes: ["code"] },
        enabled: true,
      });
    },
  };
}
