import type { Capability } from "../capability.js";
import { Sealer } from "../crypto/seal.js";
import type { PersonalData } from "../privacy/personal.js";
import { externalMigrations } from "./migrations.js";
import { externalRoutes } from "./plugin.js";
import { ExternalService } from "./service.js";
import { ExternalStore } from "./store.js";
import { PKCE_VERIFIER } from "./tables.js";

declare module "../context.js" {
  interface Services {
    external: ExternalService;
  }
}

/**
 * Sign-in with external OpenID Connect providers and GitHub (AUTH-11), configured by `SIGNIN_PROVIDERS`. With
 * none configured the routes answer an empty list and 404s, and no claim is made on the security page.
 */
export interface ExternalOptions {
  readonly clock?: () => number;
  /** The fetch that reaches providers (discovery, token, userinfo, keys); the global one by default. */
  readonly fetch?: typeof fetch;
}

export function externalCapability(options: ExternalOptions = {}): Capability {
  return {
    name: "external",
    personalData: [
      { table: "external_identities", column: "user_id" },
      { table: "external_flows", column: "user_id", omit: ["id", "verifier_sealed", "nonce"] },
    ] satisfies PersonalData[],
    sealedFields: [PKCE_VERIFIER],
    migrations: externalMigrations,
    async register(app, ctx) {
      const { config } = ctx;
      const providers = config.auth.providers;
      const identity = ctx.service("identity");
      const passkeys = ctx.service("passkeys");
      const external = new ExternalService(
        ctx.db,
        new ExternalStore(ctx.db.global),
        providers,
        new Sealer(config.dataKeys),
        ctx.service("audit"),
        identity,
        config.publicUrl,
        {
          allowHttp: !config.production,
          log: ctx.log,
          ...(options.clock ? { clock: options.clock } : {}),
          ...(options.fetch ? { fetch: options.fetch } : {}),
        },
      );
      ctx.provide("external", external);
      await app.register(externalRoutes, {
        config,
        external,
        portal: ctx.service("portalSignIn"),
        mfa: ctx.service("mfa"),
        identity,
        limits: ctx.service("authLimits"),
        sessions: ctx.service("sessions"),
        audit: ctx.service("audit"),
        otherWayIn: async (userId) =>
          Boolean((await identity.findUser(userId))?.password_hash) || (await passkeys.has(userId)),
      });
      ctx.service("jobs").schedule("external.purge", { everyMs: 3_600_000 }, () => external.purge());
      const named = (type: string) =>
        providers
          .filter((p) => p.type === type)
          .map((p) => p.name)
          .join(", ");
      const ways = [
        named("oidc") &&
          `${named("oidc")} through OpenID Connect (authorization code with PKCE S256, state and nonce; the ID token's signature, issuer, audience and expiry verified)`,
        named("github") &&
          `${named("github")} through GitHub's OAuth 2 (authorization code with PKCE S256 and state; who signed in is read from GitHub's API with the token: the numeric account id, and the primary address with GitHub's verified flag for it)`,
      ].filter(Boolean);
      ctx.posture.register({
        id: "AUTH-11",
        title: "Sign-in with external providers",
        claim: `People can sign in with ${ways.join("; and with ") || "no external provider (none is configured)"}, each round trip bound to the browser that started it (a cookie) and usable once within ten minutes. A new account is created only under the sign-up rules and only for an address the provider asserts as verified; an identity is linked to an existing account only after its owner signs in, in the browser that made the round trip, and confirms with the password, never silently, and the owner is mailed; adding one from the account page completes only in the session that started it. Linked identities are listed and removable, never the account's last way in; the second factor is still asked for.`,
        settings: {
          providers: providers.map((p) => p.id),
          types: providers.map((p) => p.type),
          issuers: providers.map((p) => p.issuer),
        },
        enabled: providers.length > 0,
      });
    },
  };
}
