import type { Capability } from "../capability.js";
import { signingKeys } from "./cli.js";
import type { SigningKeys } from "./keys.js";
import { tokenMigrations } from "./migrations.js";
import { tokenRoutes } from "./plugin.js";

declare module "../context.js" {
  interface Services {
    signingKeys: SigningKeys;
  }
}

/** How often each node looks whether the signing key is due for rotation (and reloads keys). */
const ROTATION_CHECK_MS = 10 * 60_000;

/**
 * Token signing keys (AUTH-9): created at the first start, published at /.well-known/jwks.json,
 * rotated on schedule with overlap (and by `bulwark keys rotate`).
 */
export function tokensCapability(options: { clock?: () => number } = {}): Capability {
  return {
    name: "tokens",
    migrations: tokenMigrations,
    async register(app, ctx) {
      const t = ctx.config.tokens;
      const keys = signingKeys(ctx.db, ctx.config, options.clock);
      ctx.provide("signingKeys", keys);
      await app.register(tokenRoutes, { keys });

      let timer: NodeJS.Timeout | undefined;
      app.addHook("onReady", async () => {
        await keys.ensure();
        await keys.rotateIfDue();
        timer = setInterval(
          () =>
            void keys
              .rotateIfDue()
              .then((rotated) => (rotated ? undefined : keys.load()))
              .catch((err: Error) => ctx.log.error({ reason: err.message }, "signing key rotation failed")),
          ROTATION_CHECK_MS,
        );
        timer.unref();
      });
      app.addHook("onClose", async () => clearInterval(timer));

      ctx.posture.register({
        id: "AUTH-9",
        title: "Token signing keys",
        claim: `Tokens are signed with ES256 keys named by their RFC 7638 thumbprint (kid) and published at /.well-known/jwks.json. The next key is published before it signs; a key signs for ${t.keyRotationMs / 86_400_000} days (or until \`bulwark keys rotate\`), then stays published for the ${t.accessTtlMs / 60_000}-minute token lifetime plus a minute, and no longer. Private keys are stored sealed with AES-256-GCM.`,
        settings: {
          algorithm: "ES256",
          rotationDays: t.keyRotationMs / 86_400_000,
          accessTokenMinutes: t.accessTtlMs / 60_000,
        },
        enabled: true,
      });
    },
  };
}
