import * as OTPAuth from "otpauth";
import { AdminService } from "../src/admin/service.js";
import { AdminStore } from "../src/admin/store.js";
import { Sealer } from "../src/crypto/seal.js";
import { PasswordHasher } from "../src/identity/password.js";
import { MfaService } from "../src/mfa/service.js";
import { MfaStore } from "../src/mfa/store.js";
import type { TestApp } from "./harness.js";

/**
 * A platform admin created as `bulwark admin create` does (TOTP enrolled), and its authenticator: `code()`
 * is the current code, `code(30_000)` the next step's (a code is accepted once per step).
 */
export async function createAdmin(
  t: TestApp,
  email: string,
  password: string,
): Promise<{ id: string; code(offsetMs?: number): string }> {
  const mfa = new MfaService(new MfaStore(t.db.global), new Sealer(t.config.dataKeys), "localhost");
  const created = await new AdminService(
    new AdminStore(t.db.global),
    new PasswordHasher(t.config.auth.argon2),
    mfa,
    t.config,
  ).create(email, password, true);
  const totp = new OTPAuth.TOTP({
    secret: OTPAuth.Secret.fromBase32(created.secret!),
    digits: 6,
    period: 30,
  });
  return {
    id: created.admin.id,
    code: (offsetMs = 0) => totp.generate({ timestamp: Date.now() + offsetMs }),
  };
}

/** Signs in at `url` (portal or admin) and returns the headers of an authenticated write: cookie and CSRF token. */
export async function signedIn(
  t: TestApp,
  url: "/v1/auth/login" | "/v1/admin/auth/login",
  payload: object,
  headers: Record<string, string> = {},
): Promise<{ cookie: string; "x-csrf-token": string }> {
  const res = await t.app.inject({ method: "POST", url, payload, headers });
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
  return { cookie: String(res.headers["set-cookie"]).split(";")[0]!, "x-csrf-token": res.json().csrfToken };
}
