import type { Capability } from "../capability.js";
import type { PersonalData } from "../privacy/personal.js";
import { signingKeys } from "./cli.js";
import { accessTokenCredential } from "./credential.js";
import type { SigningKeys } from "./keys.js";
import { tokenMigrations } from "./migrations.js";
import { tokenRoutes } from "./plugin.js";
import { RefreshTokenStore } from "./refresh-store.js";
import { TokenService } from "./service.js";
import { PRIVATE_JWK } from "./tables.js";

declare module "../context.js" {
  interface Services {
    signingKeys: SigningKeys;
    tokens: TokenService;
  }
}

/** How often each node looks whether the signing key is due for rotation (and reloads keys). */
const ROTATION_CHECK_MS = 10 * 60_000;

/**
 * Access and refresh tokens (AUTH-9): signing keys created at the first start, published at
 * /.well-known/jwks.json and rotated on schedule with overlap (and by `bulwark keys rotate`); tokens
 * minted from a session; the Bearer access token as one more credential kind of every tenant route.
 */
export function tokensCapability(options: { clock?: () => number } = {}): Capability {
  return {
    name: "tokens",
    personalData: [
      { table: "token_families", column: "user_id" },
      {
        table: "refresh_tokens",
        column: "family_id",
        match: { via: { table: "token_families", column: "user_id" } },
        omit: ["id", "token_hash"],
      },
    ] satisfies PersonalData[],
    sealedFields: [PRIVATE_JWK],
    migrations: tokenMigrations,
    async register(app, ctx) {
      const t = ctx.config.tokens;
      const keys = signingKeys(ctx.db, ctx.config, options.clock);
      ctx.provide("signingKeys", keys);
      let usable: string[] | undefined;
      const tokens = new TokenService(
        ctx.db,
        new RefreshTokenStore(ctx.db.engine),
        keys,
        ctx.service("orgs"),
        ctx.permissions,
        // Read once every route is registered: the actions of the tenant routes a token can call.
        () =>
          (usable ??= [
            ...new Set(
              ctx.routes.flatMap((r) =>
                r.security.action && r.security.accepts.includes("access_token") ? [r.security.action] : [],
              ),
            ),
          ]),
        ctx.service("audit"),
        {
          issuer: ctx.config.publicUrl,
          audience: `${ctx.config.publicUrl}/v1`,
          accessTtlMs: t.accessTtlMs,
          refreshTtlMs: t.refreshTtlMs,
        },
        options.clock,
      );
      ctx.provide("tokens", tokens);
      // A password changed or reset, other sessions ended, a removal: their families end in that change.
      ctx.service("audit").tap((tx, events) => tokens.onEvents(tx, events));
      // Ahead of the cookie kinds, like API keys: a request presenting a token on purpose is the token's.
      ctx.guard.addCredential(accessTokenCredential(tokens), { tenant: true, first: true });
      await app.register(tokenRoutes, { keys, tokens, credentials: ctx.service("credentials") });

      // Ended families, daily.
      ctx.service("jobs").schedule("tokens.purge", { everyMs: 86_400_000 }, () => tokens.purge());
      const timers: NodeJS.Timeout[] = [];
      app.addHook("onReady", async () => {
        await keys.ensure();
        await keys.rotateIfDue();
        const timer = setInterval(
          () =>
            void keys
              .rotateIfDue()
              .then((rotated) => (rotated ? undefined : keys.load()))
              .catch((err: Error) => ctx.log.error({ reason: err.message }, "signing key rotation failed")),
          ROTATION_CHECK_MS,
        );
        timer.unref();
        timers.push(timer);
      });
      app.addHook("onClose", async () => {
        for (const timer of timers) clearInterval(timer);
      });

      ctx.posture.register({
        id: "AUTH-9",
        title: "Access and refresh tokens",
        claim: `Access tokens are JWTs of ${t.accessTtlMs / 60_000} minutes for one organisation and a set of scopes, signed with ES256 keys named by their RFC 7638 thumbprint and published at /.well-known/jwks.json; verification accepts ES256 only and checks the signature, issuer, audience, type and expiry. A token acts only through its scopes and never beyond its user's role in the organisation at the time of each request: a removed member's token stops at once. Refresh tokens are opaque, stored as their SHA-256 only, and work once; a used one presented again revokes its whole family, and the reuse is audited. A family ends ${t.refreshTtlMs / 86_400_000} days after its sign-in however often it is refreshed, and at once when the user changes their password, ends their other sessions, or leaves the organisation. The next signing key is published before it signs; a key signs for ${t.keyRotationMs / 86_400_000} days (or until \`bulwark keys rotate\`), then stays published for the token lifetime plus a minute, and no longer. Private keys are stored sealed with AES-256-GCM.`,
        settings: {
          algorithm: "ES256",
          rotationDays: t.keyRotationMs / 86_400_000,
          accessTokenMinutes: t.accessTtlMs / 60_000,
          refreshTokenDays: t.refreshTtlMs / 86_400_000,
        },
        enabled: true,
      });
    },
  };
}
