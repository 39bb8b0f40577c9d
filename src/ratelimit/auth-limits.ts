import type { Config } from "../config/load.js";
import { AppError } from "../http/errors.js";
import type { PostureRegistry } from "../posture/registry.js";
import { type CounterStore, type Decision, Limiter } from "./limiter.js";

const HOUR = 3_600_000;

/**
 * The authentication surfaces' own limiters (AUTH-7), each separate from the others and from general
 * API limits. Sign-in counts failures per client address. There is no account-wide lockout: an attacker
 * could use one to lock the owner out; guessing one account from many addresses is slowed at each.
 */
export function authLimiters(store: CounterStore, config: Config) {
  const { login, signupPerHour, emailPerHour } = config.auth;
  // Fail closed by default when the store is down (RATE-5): guessing must never become unlimited.
  const onError = config.rate.authOnStoreError;
  const L = (name: string, limit: number, windowMs: number) =>
    new Limiter(store, name, limit, windowMs, undefined, onError);
  return {
    loginIp: L("login-ip", login.maxAttempts, login.windowMs),
    mfaIp: L("mfa-ip", login.maxAttempts * 2, login.windowMs),
    // Second-factor codes after a right password, per account: a stolen password tried from many
    // addresses gets as many fresh challenges as sign-ins, so the codes are limited where they belong.
    mfaAccount: L("mfa-account", login.maxAttempts * 2, login.windowMs),
    // A signed-in caller re-entering a password or a code (re-authentication, password change, two-factor
    // settings): per account, so a stolen session cannot guess at full speed.
    passwordCheck: L("password-check", login.maxAttempts, login.windowMs),
    codeCheck: L("code-check", login.maxAttempts, login.windowMs),
    // Mailed tokens (verification, reset): unguessable, but a flood of guesses is still refused.
    tokenIp: L("token-ip", login.maxAttempts * 4, login.windowMs),
    // Passkey ceremonies started (each stores a challenge): generous for people, bounded for floods.
    passkeyOptionsIp: L("passkey-options-ip", login.maxAttempts * 4, login.windowMs),
    // External sign-ins refused at the callback, per address (successes give their count back); and
    // round trips started (each stores a flow): generous for an office behind one address, bounded for floods.
    externalIp: L("external-ip", login.maxAttempts * 2, login.windowMs),
    externalStartIp: L("external-start-ip", login.maxAttempts * 20, login.windowMs),
    signupIp: L("signup-ip", signupPerHour, HOUR),
    resetIp: L("reset-ip", emailPerHour, HOUR),
    resetEmail: L("reset-email", emailPerHour, HOUR),
    verifyIp: L("verify-ip", emailPerHour, HOUR),
    verifyEmail: L("verify-email", emailPerHour, HOUR),
    // "Someone tried to sign up with your address": anyone can type an address, so its owner is told
    // at most twice a day.
    accountNotice: L("account-notice", 2, 24 * HOUR),
  };
}
export type AuthLimiters = ReturnType<typeof authLimiters>;

/** The 429 for a refused decision, with Retry-After in seconds (RATE-4). */
export function rateLimited(d: Decision): AppError {
  return new AppError("RATE_LIMITED", undefined, undefined, {
    "retry-after": String(Math.ceil(d.retryAfterMs / 1000)),
  });
}

/** The failures that count against an authentication limit: wrong credentials, codes or tokens. */
const FAILURES = new Set(["INVALID_CREDENTIALS", "MFA_CODE_INVALID", "TOKEN_INVALID", "PASSKEY_REFUSED"]);

/** Whether an error is a wrong credential (counted), rather than a refusal for another reason. */
export const isCredentialFailure = (err: unknown): boolean =>
  err instanceof AppError && FAILURES.has(err.code);

/**
 * Runs one authentication attempt under limits counted on failure (AUTH-7). The attempt is reserved
 * against every (limiter, key) before it runs, atomically per key, so requests already in flight count:
 * whatever the concurrency, at most `limit` attempts per key are evaluated per window. Refused with 429
 * when any key is full (the reservations taken are given back); a counted failure keeps its
 * reservations; anything else (a success, or an error that is not a wrong credential) gives them back,
 * and a success also resets the keys in `resetOnSuccess`.
 */
export async function limitedAttempt<T>(
  keys: ReadonlyArray<readonly [Limiter, string]>,
  attempt: () => Promise<T>,
  resetOnSuccess: ReadonlyArray<readonly [Limiter, string]> = [],
  failed: (err: unknown) => boolean = isCredentialFailure,
): Promise<T> {
  const held = await Promise.all(keys.map(([limiter, key]) => limiter.reserve(key)));
  const giveBack = () =>
    Promise.all(
      keys.map(([limiter, key], i) => (held[i]!.allowed ? limiter.refund(key, held[i]!.at) : null)),
    );
  const refused = held.filter((d) => !d.allowed).sort((a, b) => b.retryAfterMs - a.retryAfterMs)[0];
  if (refused) {
    await giveBack();
    throw rateLimited(refused);
  }
  let result: T;
  try {
    result = await attempt();
  } catch (err) {
    if (!failed(err)) await giveBack();
    throw err;
  }
  await giveBack();
  await Promise.all(resetOnSuccess.map(([limiter, key]) => limiter.reset(key)));
  return result;
}

/**
 * A sign-in under the per-address limit. (A per-account-and-address key was counted too, at the same
 * limit: the address's own count always closed first, so it never refused anything and is gone.)
 */
export function limitedSignIn<T>(limits: AuthLimiters, ip: string, attempt: () => Promise<T>): Promise<T> {
  return limitedAttempt([[limits.loginIp, ip]], attempt);
}

/** Counts one hit and throws 429 when over the limit. */
export async function enforce(limiter: Limiter, key: string): Promise<void> {
  const d = await limiter.hit(key);
  if (!d.allowed) throw rateLimited(d);
}

export function registerAuthLimitControls(
  posture: PostureRegistry,
  config: Config,
  backend: "redis" | "memory",
): void {
  const { login, signupPerHour, emailPerHour } = config.auth;
  posture.register({
    id: "AUTH-7",
    title: "Brute-force limits on every authentication surface",
    claim: `Sign-in allows ${login.maxAttempts} failed attempts per ${login.windowMs / 60_000} minutes per client address (IPv6 per /64), with no account-wide lockout on the password (an attacker cannot lock the owner out by guessing); attempts are counted before they are checked, so guesses sent at once get no further than guesses sent one by one. Second-factor codes after a right password: ${login.maxAttempts * 2} failures per ${login.windowMs / 60_000} minutes per address and per account (someone who has the password can keep that account limit closed: the password must then be changed). While signed in, re-entering the password or a two-factor code (re-authentication, password change, two-factor settings) allows ${login.maxAttempts} failures per ${login.windowMs / 60_000} minutes per account. Sign-up ${signupPerHour} per hour per IP; reset and verification mails ${emailPerHour} per hour per IP and per address, each with its own limiter. ${backend === "redis" ? "Counters live in Redis, so every node counts together" : "Counters are kept in the server process (a single node)"}; if the counter store cannot be reached, these limits ${config.rate.authOnStoreError === "closed" ? "refuse with 503 rather than let guesses through unlimited" : "let requests through uncounted (configured open)"}.`,
    settings: {
      loginAttempts: login.maxAttempts,
      loginWindowMinutes: login.windowMs / 60_000,
      signupPerHour,
      emailPerHour,
      store: backend,
      onStoreError: config.rate.authOnStoreError,
    },
    enabled: true,
  });
}
