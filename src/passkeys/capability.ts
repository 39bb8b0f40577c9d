import type { Capability } from "../capability.js";
import type { PersonalData } from "../privacy/personal.js";
import { passkeyMigrations } from "./migrations.js";
import { passkeyRoutes } from "./plugin.js";
import { PasskeyService } from "./service.js";
import { PasskeyStore } from "./store.js";

declare module "../context.js" {
  interface Services {
    passkeys: PasskeyService;
  }
}

/**
 * Passkeys (AUTH-13): WebAuthn credentials registered by a signed-in user (after a fresh password
 * proof), sign-in with one alone, and one as the second factor after a password (a factor of the mfa
 * service, so an organisation's "require MFA" counts it). The relying party is the public URL: its host name is the RP ID,
 * its origin the only origin a ceremony is accepted from.
 */
export function passkeysCapability(options: { clock?: () => number } = {}): Capability {
  return {
    name: "passkeys",
    personalData: [
      { table: "passkeys", column: "user_id" },
      { table: "webauthn_challenges", column: "user_id", omit: ["id", "challenge"] },
    ] satisfies PersonalData[],
    migrations: passkeyMigrations,
    async register(app, ctx) {
      const url = new URL(ctx.config.publicUrl);
      const rp = { id: url.hostname, name: url.hostname, origin: url.origin };
      const mfa = ctx.service("mfa");
      const passkeys = new PasskeyService(
        ctx.db,
        new PasskeyStore(ctx.db.global),
        ctx.service("audit"),
        rp,
        options.clock,
        (userId) => mfa.factorChanged(userId),
      );
      // A passkey is a second factor: after a password, and for an organisation that requires MFA.
      mfa.addFactor("passkey", (userId) => passkeys.has(userId));
      ctx.provide("passkeys", passkeys);
      await app.register(passkeyRoutes, {
        passkeys,
        portal: ctx.service("portalSignIn"),
        limits: ctx.service("authLimits"),
        identity: ctx.service("identity"),
        mfa,
        audit: ctx.service("audit"),
      });
      ctx.service("jobs").schedule("passkeys.purge", { everyMs: 3_600_000 }, () => passkeys.purge());
      ctx.posture.register({
        id: "AUTH-13",
        title: "Passkeys",
        claim: `People can sign in with a passkey alone (WebAuthn, discoverable credentials) for ${rp.id}, with user verification (the device's PIN or biometric) required every time, and from ${rp.origin} only. Adding or removing one needs the password proved within the re-authentication window (a passkey sign-in proves no password), and the account's owner is mailed when one is added; each ceremony's challenge works once, for five minutes; only public keys are stored, and a passkey's signature counter never goes back. A passkey is also a second factor: once an account has one, its password alone opens no session until one of that account's passkeys (or its TOTP) completes the sign-in, and an organisation that requires MFA admits a member whose second factor is a passkey.`,
        settings: { rpId: rp.id, origin: rp.origin, userVerification: "required" },
        enabled: true,
      });
    },
  };
}
