import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import type { AuditService } from "../audit/service.js";
import type { Database } from "../db/database.js";
import { AppError } from "../http/errors.js";
import type { Stamp } from "../orgs/stamp.js";
import { newId } from "../util/ids.js";
import type { PasskeyStore } from "./store.js";
import type { PasskeyRow } from "./tables.js";

/** How long a registration or sign-in ceremony may take. */
const CHALLENGE_MS = 5 * 60_000;
/** Passkeys per account: more is a mistake or an attack, never a need. */
export const MAX_PASSKEYS = 20;

export interface RelyingParty {
  /** The RP ID: the public URL's host name (a passkey works on this host and its subdomains only). */
  readonly id: string;
  readonly name: string;
  /** The origin every ceremony must come from: the public URL's. */
  readonly origin: string;
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url");
const refused = () => new AppError("PASSKEY_REFUSED");

/**
 * Passkeys (AUTH-13) with @simplewebauthn/server: registration (the route requires a fresh password
 * proof), sign-in with a passkey alone (discoverable credentials: the passkey names its user), list,
 * rename and removal. User verification (a PIN or biometric on the device) is required every time, so a
 * passkey alone is two factors: the device held, and the person unlocking it. Every ceremony has its own
 * challenge, used once within five minutes; only public keys are stored.
 */
export class PasskeyService {
  constructor(
    private readonly db: Database,
    private readonly store: PasskeyStore,
    private readonly audit: AuditService,
    readonly rp: RelyingParty,
    private readonly clock: () => number = () => Date.now(),
    /** Told after a user's passkeys change: a passkey is a second factor, whose cached state must go. */
    private readonly changed: (userId: string) => void = () => {},
  ) {}

  list(userId: string): Promise<PasskeyRow[]> {
    return this.store.list(userId);
  }

  /** Whether the user has a passkey: then it is a second factor after a password (AUTH-8, AUTH-13). */
  async has(userId: string): Promise<boolean> {
    return (await this.store.list(userId)).length > 0;
  }

  /** Options for the browser's `navigator.credentials.create`, and the id of their challenge. */
  async registrationOptions(user: { id: string; email: string; name: string | null }) {
    const existing = await this.store.list(user.id);
    if (existing.length >= MAX_PASSKEYS)
      throw new AppError("UNPROCESSABLE", `An account has at most ${MAX_PASSKEYS} passkeys.`);
    const options = await generateRegistrationOptions({
      rpName: this.rp.name,
      rpID: this.rp.id,
      userName: user.email,
      userID: new TextEncoder().encode(user.id),
      userDisplayName: user.name ?? user.email,
      attestationType: "none",
      excludeCredentials: existing.map((p) => ({ id: p.id, transports: JSON.parse(p.transports) })),
      authenticatorSelection: { residentKey: "required", userVerification: "required" },
      supportedAlgorithmIDs: [-7, -8, -257],
    });
    return { challengeId: await this.challenge("register", options.challenge, user.id), options };
  }

  /** Verifies a new passkey against its challenge and stores its public key. */
  async register(
    userId: string,
    challengeId: string,
    response: RegistrationResponseJSON,
    name: string,
    record: Stamp,
  ): Promise<PasskeyRow> {
    const challenge = await this.store.takeChallenge(challengeId, "register", this.clock());
    if (!challenge || challenge.user_id !== userId) throw refused();
    let info: Awaited<ReturnType<typeof verifyRegistrationResponse>>["registrationInfo"];
    try {
      const result = await verifyRegistrationResponse({
        response,
        expectedChallenge: challenge.challenge,
        expectedOrigin: this.rp.origin,
        expectedRPID: this.rp.id,
        requireUserVerification: true,
      });
      info = result.verified ? result.registrationInfo : undefined;
    } catch {
      info = undefined;
    }
    if (!info) throw refused();
    const now = this.clock();
    const row: PasskeyRow = {
      id: info.credential.id,
      user_id: userId,
      name: name.trim() || "Passkey",
      public_key: b64(info.credential.publicKey),
      counter: info.credential.counter,
      transports: JSON.stringify(info.credential.transports ?? response.response.transports ?? []),
      device_type: info.credentialDeviceType,
      backed_up: info.credentialBackedUp ? 1 : 0,
      created_at: now,
      last_used_at: null,
    };
    const taken = () => new AppError("CONFLICT", "This passkey is already registered.");
    if (await this.store.byId(row.id)) throw taken();
    try {
      await this.db.global.transaction().execute(async (tx) => {
        // Counted again here: options fetched in parallel must not add past the limit.
        if ((await this.store.list(userId, tx)).length >= MAX_PASSKEYS)
          throw new AppError("UNPROCESSABLE", `An account has at most ${MAX_PASSKEYS} passkeys.`);
        await this.store.insert(tx, row);
        await this.audit.record(
          tx,
          record({ action: "passkey.added", entity: { type: "user", id: userId }, after: facts(row) }),
        );
      });
    } catch (err) {
      // The same credential registered twice at once: the primary key let one in; this one conflicts.
      if (!(err instanceof AppError) && (await this.store.byId(row.id))) throw taken();
      throw err;
    }
    this.changed(userId);
    return row;
  }

  async rename(userId: string, id: string, name: string): Promise<void> {
    if (!(await this.store.rename(this.db.global, userId, id, name.trim()))) throw new AppError("NOT_FOUND");
  }

  /** Removes one of the user's passkeys (with its record); returns it. */
  async remove(userId: string, id: string, record: Stamp): Promise<PasskeyRow> {
    const removed = await this.db.global.transaction().execute(async (tx) => {
      const old = (await this.store.list(userId, tx)).find((p) => p.id === id);
      if (!old || !(await this.store.remove(tx, userId, id))) throw new AppError("NOT_FOUND");
      await this.audit.record(
        tx,
        record({ action: "passkey.removed", entity: { type: "user", id: userId }, before: facts(old) }),
      );
      return old;
    });
    this.changed(userId);
    return removed;
  }

  /**
   * Options for `navigator.credentials.get`. With no user (sign-in with a passkey alone) no account is
   * named: the passkey says whose it is. With a user (the second factor after their password) the
   * challenge is bound to them and lists their passkeys: only one of theirs can answer it.
   */
  async authenticationOptions(userId?: string) {
    const allowCredentials = userId
      ? (await this.store.list(userId)).map((p) => ({ id: p.id, transports: JSON.parse(p.transports) }))
      : undefined;
    const options = await generateAuthenticationOptions({
      rpID: this.rp.id,
      userVerification: "required",
      ...(allowCredentials ? { allowCredentials } : {}),
    });
    return { challengeId: await this.challenge("authenticate", options.challenge, userId ?? null), options };
  }

  /**
   * Verifies a passkey assertion: the user it proves, or PASSKEY_REFUSED whatever went wrong (a
   * challenge bound to a user accepts only that user's passkeys).
   */
  async authenticate(challengeId: string, response: AuthenticationResponseJSON): Promise<string> {
    const challenge = await this.store.takeChallenge(challengeId, "authenticate", this.clock());
    const passkey = challenge ? await this.store.byId(response.id) : undefined;
    if (!challenge || !passkey) throw refused();
    if (challenge.user_id !== null && challenge.user_id !== passkey.user_id) throw refused();
    const handle = response.response.userHandle;
    if (handle && handle !== b64(new TextEncoder().encode(passkey.user_id))) throw refused();
    let newCounter: number;
    try {
      const result = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge.challenge,
        expectedOrigin: this.rp.origin,
        expectedRPID: this.rp.id,
        requireUserVerification: true,
        credential: {
          id: passkey.id,
          publicKey: new Uint8Array(Buffer.from(passkey.public_key, "base64url")),
          counter: passkey.counter,
          transports: JSON.parse(passkey.transports),
        },
      });
      if (!result.verified) throw refused();
      newCounter = result.authenticationInfo.newCounter;
    } catch {
      throw refused();
    }
    await this.store.used(passkey.id, newCounter, this.clock());
    return passkey.user_id;
  }

  purge(): Promise<number> {
    return this.store.purgeChallenges(this.clock());
  }

  private async challenge(purpose: string, challenge: string, userId: string | null): Promise<string> {
    const now = this.clock();
    const id = newId("wac", now);
    await this.store.addChallenge({
      id,
      user_id: userId,
      purpose,
      challenge,
      expires_at: now + CHALLENGE_MS,
      used_at: null,
    });
    return id;
  }
}

/** What the audit log keeps of a passkey: never its key. */
const facts = (p: PasskeyRow) => ({
  id: p.id,
  name: p.name,
  deviceType: p.device_type,
  backedUp: p.backed_up === 1,
});
