import { randomBytes } from "node:crypto";
import type { FastifyRequest } from "fastify";
import * as OTPAuth from "otpauth";
import QRCode from "qrcode";
import type { AuditEvent } from "../audit/entry.js";
import type { AuditService } from "../audit/service.js";
import type { Sealer } from "../crypto/seal.js";
import type { Db } from "../db/database.js";
import { AppError } from "../http/errors.js";
import { BroadcastCache } from "../state/broadcast-cache.js";
import type { InvalidationBus } from "../state/bus.js";
import { newId, newSecret, sha256 } from "../util/ids.js";
import { mfaEvents } from "./events.js";
import type { MfaStore } from "./store.js";
import type { MfaChallengeRow } from "./tables.js";
import { TOTP_SEED } from "./tables.js";

const PERIOD = 30;
const CHALLENGE_TTL_MS = 5 * 60_000;
const CHALLENGE_ATTEMPTS = 5;
const BACKUP_CODES = 10;
const BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789";

/** A spent sign-in step: whose, and what kind (how its first factor was proved). */
export interface Redeemed {
  readonly principalId: string;
  readonly kind: MfaChallengeRow["kind"];
}

/** The sign-in steps the portal completes: after a password, or after an external provider. */
export const PORTAL_STEPS = ["portal", "external"] as const;

/** The kinds of second factor a sign-in step can take. */
export type SecondFactor = "totp" | "passkey";
/** What a sign-in step accepts: a factor, or one of the account's backup codes. */
export type StepMethod = SecondFactor | "backup_code";

export interface Enrolment {
  readonly secret: string;
  readonly otpauthUri: string;
  readonly qrCode: string;
}

/** A backup code like `k7m2q-9xw4h`: 50 random bits, easy to read aloud, dash and case ignored. */
function backupCode(): string {
  const b = randomBytes(10);
  let s = "";
  for (let i = 0; i < 10; i++) s += BACKUP_ALPHABET[b[i]! % BACKUP_ALPHABET.length];
  return `${s.slice(0, 5)}-${s.slice(5)}`;
}
const normaliseBackup = (code: string): string => code.replace(/[\s-]/g, "").toLowerCase();

export interface MfaOptions {
  readonly now?: () => number;
  readonly bus?: InvalidationBus;
  /** Where factor changes are recorded (AUDIT-2). Without it (the admin CLI, unit tests) nothing is. */
  readonly audit?: AuditService;
}

/**
 * TOTP second factor (AUTH-8, RFC 6238: SHA-1, 6 digits, 30 s, one step of clock drift either way) and
 * single-use backup codes. A code is accepted once: the accepted time step is recorded and never
 * accepted again, so a code seen over a shoulder cannot be replayed inside its window.
 */
export class MfaService {
  /** Whether a principal has a confirmed factor: read on every request to an org that requires MFA. */
  private readonly enabled: BroadcastCache<boolean>;
  private readonly now: () => number;
  private readonly audit: AuditService | undefined;
  private readonly factors: Array<{
    name: Exclude<SecondFactor, "totp">;
    has: (id: string) => Promise<boolean>;
  }> = [];

  constructor(
    private readonly store: MfaStore,
    private readonly sealer: Sealer,
    private readonly issuer: string,
    options: MfaOptions = {},
  ) {
    this.now = options.now ?? (() => Date.now());
    this.audit = options.audit;
    this.enabled = new BroadcastCache<boolean>(
      "bulwark:mfa:changed",
      30_000,
      100_000,
      options.bus,
      (map, id) => map.delete(id),
    );
  }

  /** Deletes expired second-factor steps (GDPR-3): each names its account. */
  purgeChallenges(): Promise<number> {
    return this.store.purgeChallenges(this.now());
  }

  /** Records `event` in `tx` (AUDIT-2): always the transaction's last write, after the factor's rows. */
  private async record(tx: Db, event: AuditEvent): Promise<void> {
    await this.audit?.record(tx, event);
  }

  /**
   * Another kind of second factor (a passkey) that, once a principal has one, turns the sign-in step on
   * and satisfies an organisation's "require MFA" like TOTP. Its owner calls `factorChanged` on every
   * change, so the cached answer of `isEnabled` is dropped on every node.
   */
  addFactor(name: Exclude<SecondFactor, "totp">, has: (principalId: string) => Promise<boolean>): void {
    this.factors.push({ name, has });
  }

  /** Drops the cached answer of `isEnabled` for `principalId` here and on every node. */
  factorChanged(principalId: string): void {
    this.enabled.invalidate(principalId);
  }

  /**
   * What the sign-in step offers, read fresh (never the cache, so a factor added a moment ago on any
   * node is asked for): the factors the principal has, TOTP first, and `backup_code` while unused
   * backup codes remain. Empty: no second factor, the password alone signs in.
   */
  async methods(principalId: string): Promise<StepMethod[]> {
    const found: StepMethod[] = (await this.hasTotp(principalId)) ? ["totp"] : [];
    for (const f of this.factors) if (await f.has(principalId)) found.push(f.name);
    if (found.length && (await this.store.unusedBackupCodes(principalId)) > 0) found.push("backup_code");
    return found;
  }

  /** Whether TOTP is on: the factor a code (or backup code) proves. */
  async hasTotp(principalId: string): Promise<boolean> {
    return (await this.store.getTotp(principalId))?.confirmed_at != null;
  }

  /**
   * Whether the principal has any second factor (TOTP or another kind added with `addFactor`). Cached
   * for 30 s; every change drops it on every node.
   */
  async isEnabled(principalId: string): Promise<boolean> {
    const now = this.now();
    const hit = this.enabled.get(principalId, now);
    if (hit !== undefined) return hit;
    let on = await this.hasTotp(principalId);
    for (const f of this.factors) on ||= await f.has(principalId);
    this.enabled.set(principalId, on, now);
    return on;
  }

  /** What the account's own settings screen shows: whether TOTP is on, and how many backup codes are unused. */
  async status(
    principalId: string,
  ): Promise<{ totp: boolean; methods: StepMethod[]; backupCodesLeft: number }> {
    const methods = await this.methods(principalId);
    return {
      totp: methods.includes("totp"),
      methods,
      backupCodesLeft: methods.length ? await this.store.unusedBackupCodes(principalId) : 0,
    };
  }

  /** The cached answer of `isEnabled`, or undefined: the synchronous fast path of the tenant check. */
  isEnabledCached(principalId: string): boolean | undefined {
    return this.enabled.get(principalId, this.now());
  }

  /** Starts (or restarts) enrolment: a new seed, as an otpauth URI and a QR code (SVG data URL). */
  async startEnrolment(principalId: string, label: string): Promise<Enrolment> {
    if (await this.hasTotp(principalId)) throw new AppError("MFA_ALREADY_ENABLED");
    const secret = new OTPAuth.Secret({ size: 20 });
    await this.store.putPending({
      principal_id: principalId,
      secret_sealed: this.sealer.seal(secret.base32, TOTP_SEED, principalId),
      confirmed_at: null,
      last_step: 0,
      created_at: this.now(),
    });
    const otpauthUri = this.totp(secret, label).toString();
    const svg = await QRCode.toString(otpauthUri, { type: "svg", errorCorrectionLevel: "M", margin: 1 });
    return {
      secret: secret.base32,
      otpauthUri,
      qrCode: `data:image/svg+xml;base64,${Buffer.from(svg).toString("base64")}`,
    };
  }

  /**
   * Confirms enrolment with a first code; returns the 10 backup codes, shown this once. The factor, its
   * codes and the `mfa.enabled` record are one transaction: there is no factor without codes.
   */
  async confirmEnrolment(principalId: string, code: string, by: FastifyRequest): Promise<string[]> {
    const row = await this.store.getTotp(principalId);
    if (!row || row.confirmed_at !== null) throw new AppError("MFA_ENROLMENT_NOT_STARTED");
    const step = this.matchStep(row.secret_sealed, principalId, code);
    if (step === null) throw new AppError("MFA_CODE_INVALID");
    const codes = await this.store.transaction(async (store, tx) => {
      if (!(await store.confirm(principalId, this.now(), step))) throw new AppError("MFA_CODE_INVALID");
      const codes = await this.newBackupCodes(store, principalId);
      await this.record(tx, mfaEvents.enabled(by, principalId, codes.length));
      return codes;
    });
    this.enabled.invalidate(principalId);
    return codes;
  }

  /** Confirms a pending enrolment without a code: for factors provisioned out of band (the admin CLI). */
  async enrolConfirmed(principalId: string): Promise<string[]> {
    const codes = await this.store.transaction(async (store) => {
      if (!(await store.confirm(principalId, this.now(), 0))) throw new AppError("MFA_ENROLMENT_NOT_STARTED");
      return this.newBackupCodes(store, principalId);
    });
    this.enabled.invalidate(principalId);
    return codes;
  }

  /** A TOTP code (once per time step) or an unused backup code. */
  verify(principalId: string, code: string): Promise<boolean> {
    return this.check(this.store, principalId, code);
  }

  /** `verify` on a given store (a transaction's, so the code is spent with what it unlocks). */
  private async check(store: MfaStore, principalId: string, code: string): Promise<boolean> {
    if (/^\d{6}$/.test(code)) {
      const row = await store.getTotp(principalId);
      if (!row || row.confirmed_at === null) return false;
      const step = this.matchStep(row.secret_sealed, principalId, code);
      return step !== null && (await store.advanceStep(principalId, step));
    }
    // Backup codes exist only while the principal has a factor (TOTP or another kind): they are
    // issued with the first one and deleted with the last.
    return store.consumeBackupCode(principalId, sha256(normaliseBackup(code)), this.now());
  }

  /** Removes the factor and its backup codes, with the `mfa.disabled` record. */
  async disable(principalId: string, by: FastifyRequest): Promise<void> {
    const others = await this.otherFactors(principalId);
    await this.store.transaction(async (store, tx) => {
      await store.deleteTotp(principalId, { keepBackupCodes: others });
      await this.record(tx, mfaEvents.disabled(by, principalId, others));
    });
    this.enabled.invalidate(principalId);
  }

  /** Whether the principal has a factor other than TOTP. */
  private async otherFactors(principalId: string): Promise<boolean> {
    for (const f of this.factors) if (await f.has(principalId)) return true;
    return false;
  }

  /**
   * After another kind of factor was added (a passkey): the account's first factor gets its 10 backup
   * codes, returned to be shown this once, so losing the device never locks the owner out. Undefined
   * when the account already has codes.
   */
  async factorAdded(principalId: string, by: FastifyRequest): Promise<string[] | undefined> {
    this.enabled.invalidate(principalId);
    if (await this.store.hasBackupCodes(principalId)) return undefined;
    return this.store.transaction(async (store, tx) => {
      const codes = await this.newBackupCodes(store, principalId);
      await this.record(tx, mfaEvents.enabled(by, principalId, codes.length, "passkey"));
      return codes;
    });
  }

  /**
   * After another kind of factor was removed: when none is left (no TOTP, no other), the backup codes
   * go too and the account's second factor is recorded as off (AUDIT-2); true then.
   */
  async factorRemoved(principalId: string, by: FastifyRequest): Promise<boolean> {
    this.enabled.invalidate(principalId);
    if ((await this.hasTotp(principalId)) || (await this.otherFactors(principalId))) return false;
    await this.store.transaction(async (store, tx) => {
      await store.deleteBackupCodes(principalId);
      await this.record(tx, mfaEvents.disabled(by, principalId, false, "passkey"));
    });
    this.enabled.invalidate(principalId);
    return true;
  }

  /** Replaces every backup code with 10 new ones (shown this once), with the record of it. */
  regenerateBackupCodes(principalId: string, by: FastifyRequest): Promise<string[]> {
    return this.store.transaction(async (store, tx) => {
      const codes = await this.newBackupCodes(store, principalId);
      await this.record(tx, mfaEvents.backupCodesRegenerated(by, principalId, codes.length));
      return codes;
    });
  }

  private async newBackupCodes(store: MfaStore, principalId: string): Promise<string[]> {
    const now = this.now();
    const codes = Array.from({ length: BACKUP_CODES }, backupCode);
    await store.replaceBackupCodes(
      principalId,
      codes.map((c) => ({
        id: newId("bkc", now),
        principal_id: principalId,
        code_hash: sha256(normaliseBackup(c)),
        used_at: null,
        created_at: now,
      })),
    );
    return codes;
  }

  /** The step between password and session: a short-lived, single-use token with a few attempts. */
  async createChallenge(principalId: string, kind: MfaChallengeRow["kind"]): Promise<string> {
    const token = newSecret("bwm");
    await this.store.createChallenge({
      id: sha256(token),
      principal_id: principalId,
      kind,
      expires_at: this.now() + CHALLENGE_TTL_MS,
      attempts: 0,
      consumed_at: null,
    });
    return token;
  }

  /** Whose sign-in a challenge continues (undefined when it is unknown, spent or expired): for per-account limits. */
  challengePrincipal(token: string): Promise<string | undefined> {
    return this.store.challengePrincipal(sha256(token), this.now());
  }

  /**
   * Redeems a challenge with a code; returns the principal. Five wrong codes spend the challenge. A wrong
   * code is recorded as a failed sign-in in the transaction that counts the attempt: the refusal is
   * returned out of it, not thrown, so the count and the record commit before the error is raised.
   */
  async redeemChallenge(
    token: string,
    code: string,
    kinds: readonly MfaChallengeRow["kind"][],
    by: FastifyRequest,
  ): Promise<Redeemed> {
    const id = sha256(token);
    const outcome = await this.store.transaction(async (store, tx) => {
      const challenge = await store.attemptChallenge(id, this.now(), CHALLENGE_ATTEMPTS);
      if (!challenge || !kinds.includes(challenge.kind))
        return new AppError("TOKEN_INVALID", "This sign-in step expired or was used; sign in again.");
      if (!(await this.check(store, challenge.principal_id, code))) {
        await this.record(tx, mfaEvents.signInCodeRefused(by, challenge));
        return new AppError("MFA_CODE_INVALID");
      }
      if (!(await store.consumeChallenge(id, this.now()))) return new AppError("TOKEN_INVALID");
      return { principalId: challenge.principal_id, kind: challenge.kind };
    });
    if (outcome instanceof AppError) throw outcome;
    return outcome;
  }

  /**
   * Redeems a challenge with a second factor its owner proved elsewhere (a passkey assertion the
   * passkeys service verified for `principalId`): the attempt is counted and the challenge spent in one
   * transaction, and only when it is still live, of `kind`, and `principalId`'s.
   */
  async completeChallenge(
    token: string,
    kinds: readonly MfaChallengeRow["kind"][],
    principalId: string,
  ): Promise<Redeemed> {
    const id = sha256(token);
    const kind = await this.store.transaction(async (store) => {
      const challenge = await store.attemptChallenge(id, this.now(), CHALLENGE_ATTEMPTS);
      if (!challenge || !kinds.includes(challenge.kind) || challenge.principal_id !== principalId)
        return null;
      return (await store.consumeChallenge(id, this.now())) ? challenge.kind : null;
    });
    if (!kind) throw new AppError("TOKEN_INVALID", "This sign-in step expired or was used; sign in again.");
    return { principalId, kind };
  }

  private totp(secret: OTPAuth.Secret, label: string): OTPAuth.TOTP {
    return new OTPAuth.TOTP({
      issuer: this.issuer,
      label,
      algorithm: "SHA1",
      digits: 6,
      period: PERIOD,
      secret,
    });
  }

  /** The time step a code belongs to (current ±1), or null. */
  private matchStep(sealed: string, principalId: string, code: string): number | null {
    if (!/^\d{6}$/.test(code)) return null;
    const secret = OTPAuth.Secret.fromBase32(this.sealer.open(sealed, TOTP_SEED, principalId));
    const now = this.now();
    const delta = this.totp(secret, "x").validate({ token: code, timestamp: now, window: 1 });
    return delta === null ? null : Math.floor(now / 1000 / PERIOD) + delta;
  }
}
