import { randomBytes } from "node:crypto";
import * as OTPAuth from "otpauth";
import QRCode from "qrcode";
import type { Sealer } from "../crypto/seal.js";
import { AppError } from "../http/errors.js";
import { BroadcastCache } from "../state/broadcast-cache.js";
import type { InvalidationBus } from "../state/bus.js";
import { newId, newSecret, sha256 } from "../util/ids.js";
import type { MfaStore } from "./store.js";
import type { MfaChallengeRow } from "./tables.js";

const PERIOD = 30;
const CHALLENGE_TTL_MS = 5 * 60_000;
const CHALLENGE_ATTEMPTS = 5;
const BACKUP_CODES = 10;
const BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789";

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

/**
 * TOTP second factor (AUTH-8, RFC 6238: SHA-1, 6 digits, 30 s, one step of clock drift either way) and
 * single-use backup codes. A code is accepted once: the accepted time step is recorded and never
 * accepted again, so a code seen over a shoulder cannot be replayed inside its window.
 */
export class MfaService {
  /** Whether a principal has a confirmed factor: read on every request to an org that requires MFA. */
  private readonly enabled: BroadcastCache<boolean>;

  constructor(
    private readonly store: MfaStore,
    private readonly sealer: Sealer,
    private readonly issuer: string,
    private readonly now: () => number = () => Date.now(),
    bus?: InvalidationBus,
  ) {
    this.enabled = new BroadcastCache<boolean>("bulwark:mfa:changed", 30_000, 100_000, bus, (map, id) =>
      map.delete(id),
    );
  }

  /** Whether the principal has a confirmed second factor. Cached for 30 s; every change drops it on every node. */
  async isEnabled(principalId: string): Promise<boolean> {
    const now = this.now();
    const hit = this.enabled.get(principalId, now);
    if (hit !== undefined) return hit;
    const on = (await this.store.getTotp(principalId))?.confirmed_at != null;
    this.enabled.set(principalId, on, now);
    return on;
  }

  /** What the account's own settings screen shows: whether TOTP is on, and how many backup codes are unused. */
  async status(principalId: string): Promise<{ totp: boolean; backupCodesLeft: number }> {
    const totp = (await this.store.getTotp(principalId))?.confirmed_at != null;
    return { totp, backupCodesLeft: totp ? await this.store.unusedBackupCodes(principalId) : 0 };
  }

  /** The cached answer of `isEnabled`, or undefined: the synchronous fast path of the tenant check. */
  isEnabledCached(principalId: string): boolean | undefined {
    return this.enabled.get(principalId, this.now());
  }

  /** Starts (or restarts) enrolment: a new seed, as an otpauth URI and a QR code (SVG data URL). */
  async startEnrolment(principalId: string, label: string): Promise<Enrolment> {
    if (await this.isEnabled(principalId)) throw new AppError("MFA_ALREADY_ENABLED");
    const secret = new OTPAuth.Secret({ size: 20 });
    await this.store.putPending({
      principal_id: principalId,
      secret_sealed: this.sealer.seal(secret.base32, principalId),
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

  /** Confirms enrolment with a first code; returns the 10 backup codes, shown this once. */
  async confirmEnrolment(principalId: string, code: string): Promise<string[]> {
    const row = await this.store.getTotp(principalId);
    if (!row || row.confirmed_at !== null) throw new AppError("MFA_ENROLMENT_NOT_STARTED");
    const step = this.matchStep(row.secret_sealed, principalId, code);
    if (step === null || !(await this.store.confirm(principalId, this.now(), step)))
      throw new AppError("MFA_CODE_INVALID");
    this.enabled.invalidate(principalId);
    return this.regenerateBackupCodes(principalId);
  }

  /** Confirms a pending enrolment without a code: for factors provisioned out of band (the admin CLI). */
  async enrolConfirmed(principalId: string): Promise<string[]> {
    if (!(await this.store.confirm(principalId, this.now(), 0)))
      throw new AppError("MFA_ENROLMENT_NOT_STARTED");
    this.enabled.invalidate(principalId);
    return this.regenerateBackupCodes(principalId);
  }

  /** A TOTP code (once per time step) or an unused backup code. */
  async verify(principalId: string, code: string): Promise<boolean> {
    const row = await this.store.getTotp(principalId);
    if (!row || row.confirmed_at === null) return false;
    if (/^\d{6}$/.test(code)) {
      const step = this.matchStep(row.secret_sealed, principalId, code);
      return step !== null && (await this.store.advanceStep(principalId, step));
    }
    return this.store.consumeBackupCode(principalId, sha256(normaliseBackup(code)), this.now());
  }

  async disable(principalId: string): Promise<void> {
    await this.store.deleteTotp(principalId);
    this.enabled.invalidate(principalId);
  }

  async regenerateBackupCodes(principalId: string): Promise<string[]> {
    const now = this.now();
    const codes = Array.from({ length: BACKUP_CODES }, backupCode);
    await this.store.replaceBackupCodes(
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

  /** Redeems a challenge with a code; returns the principal. Five wrong codes spend the challenge. */
  async redeemChallenge(token: string, code: string, kind: MfaChallengeRow["kind"]): Promise<string> {
    const id = sha256(token);
    const challenge = await this.store.attemptChallenge(id, this.now(), CHALLENGE_ATTEMPTS);
    if (!challenge || challenge.kind !== kind)
      throw new AppError("TOKEN_INVALID", "This sign-in step expired or was used; sign in again.");
    if (!(await this.verify(challenge.principal_id, code))) throw new AppError("MFA_CODE_INVALID");
    if (!(await this.store.consumeChallenge(id, this.now()))) throw new AppError("TOKEN_INVALID");
    return challenge.principal_id;
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
    const secret = OTPAuth.Secret.fromBase32(this.sealer.open(sealed, principalId));
    const now = this.now();
    const delta = this.totp(secret, "x").validate({ token: code, timestamp: now, window: 1 });
    return delta === null ? null : Math.floor(now / 1000 / PERIOD) + delta;
  }
}
