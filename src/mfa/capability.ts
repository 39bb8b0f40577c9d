import type { Capability } from "../capability.js";
import { Sealer } from "../crypto/seal.js";
import type { PersonalData } from "../privacy/personal.js";
import { mfaMigrations } from "./migrations.js";
import { MfaService } from "./service.js";
import { MfaStore } from "./store.js";
import { TOTP_SEED } from "./tables.js";

declare module "../context.js" {
  interface Services {
    mfa: MfaService;
  }
}

/** TOTP second factors and backup codes (AUTH-8). Its routes are the account's: identity registers them. */
export const mfaCapability: Capability = {
  name: "mfa",
  personalData: [
    { table: "mfa_totp", column: "principal_id", omit: ["secret_sealed", "last_step"] },
    { table: "mfa_backup_codes", column: "principal_id", omit: ["id", "code_hash"] },
    { table: "mfa_challenges", column: "principal_id", omit: ["id"] },
  ] satisfies PersonalData[],
  sealedFields: [TOTP_SEED],
  migrations: mfaMigrations,
  register(_app, ctx) {
    const mfa = new MfaService(
      new MfaStore(ctx.db.global),
      new Sealer(ctx.config.dataKeys),
      new URL(ctx.config.publicUrl).hostname,
      { bus: ctx.bus, audit: ctx.service("audit") },
    );
    ctx.provide("mfa", mfa);
    ctx.service("jobs").schedule("mfa.purge", { everyMs: 3_600_000 }, () => mfa.purgeChallenges());
    ctx.posture.register({
      id: "AUTH-8",
      title: "TOTP two-factor authentication",
      claim:
        "Users can turn on TOTP (RFC 6238) behind a password check, confirm it with a code, and get 10 single-use backup codes stored hashed; sign-in then needs a code, each code works once, and turning it off needs the password and a code. An organisation can require a second factor (TOTP or a passkey) of every member; only an owner, re-authenticated, can lift that requirement. Users enrol from the console's account page (QR code or key), where backup codes are shown once.",
      settings: { backupCodes: 10, digits: 6, periodSeconds: 30 },
      enabled: true,
    });
  },
};
