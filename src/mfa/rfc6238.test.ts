import { readFileSync } from "node:fs";
import type { FastifyRequest } from "fastify";
import * as OTPAuth from "otpauth";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type TestDb, testConfig, testDb } from "../../test/harness.js";
import { Sealer } from "../crypto/seal.js";
import type { AppError } from "../http/errors.js";
import { MfaService } from "./service.js";
import { MfaStore } from "./store.js";
import { TOTP_SEED } from "./tables.js";

interface Vectors {
  seeds: Record<"SHA1" | "SHA256" | "SHA512", string>;
  vectors: Array<{ time: number } & Record<"SHA1" | "SHA256" | "SHA512", string>>;
}
const v = JSON.parse(
  readFileSync(new URL("../../test/vectors/rfc6238.json", import.meta.url), "utf8"),
) as Vectors;

/** The seed as the base32 an authenticator app would be given. */
const SEED = OTPAuth.Secret.fromUTF8(v.seeds.SHA1).base32;
/** Bulwark's codes are 6 digits: RFC 6238's 8-digit value reduced mod 10^6, i.e. its last six digits. */
const six = (eight: string): string => eight.slice(-6);
/** The request an enrolment is attributed to; this MfaService has no audit log, so it is never read. */
const by = { id: "req-rfc6238", ip: "127.0.0.1" } as FastifyRequest;

/**
 * RFC 6238 Appendix B through Bulwark's own code path: the seed is stored sealed, as an enrolment stores
 * it, and the codes go through MfaService (its verification, its ±1-step window and its replay rule) at
 * each vector's time on a frozen clock. Bulwark speaks TOTP with SHA-1, 6 digits and 30-second steps (what
 * authenticator apps support); the SHA-256/512 vectors do not apply.
 */
describe("RFC 6238 through MfaService", () => {
  let t: TestDb;
  let mfa: MfaService;
  let store: MfaStore;
  const sealer = new Sealer(testConfig().dataKeys);
  let n = 0;
  beforeAll(async () => {
    t = await testDb();
    store = new MfaStore(t.db.global);
    mfa = new MfaService(store, sealer, "localhost");
  });
  afterAll(() => t.cleanup());
  afterEach(() => vi.useRealTimers());

  /** A principal enrolled with the RFC seed, pending (as after "start enrolment"). */
  async function enrolled(): Promise<string> {
    const id = `usr_rfc${++n}`;
    await store.putPending({
      principal_id: id,
      secret_sealed: sealer.seal(SEED, TOTP_SEED, id),
      confirmed_at: null,
      last_step: 0,
      created_at: Date.now(),
    });
    return id;
  }
  const at = (seconds: number) => vi.useFakeTimers({ toFake: ["Date"], now: seconds * 1000 });

  for (const row of v.vectors) {
    it(`AUTH-8: RFC 6238 §B SHA1 at T=${row.time}: Bulwark accepts ${six(row.SHA1)} once, and refuses it replayed`, async () => {
      const id = await enrolled();
      at(row.time);
      // Confirming enrolment verifies the first code: it must be the RFC's.
      expect(await mfa.confirmEnrolment(id, six(row.SHA1), by)).toHaveLength(10);
      expect(await mfa.verify(id, six(row.SHA1))).toBe(false);
    });
  }

  it("AUTH-8: the window is one step either way, to the millisecond: accepted from the first ms of the step before to the last ms of the step after, refused 1 ms outside", async () => {
    // T=1234567890 is exactly the start of its step, so the window's edges are round numbers.
    const row = v.vectors.find((r) => r.time === 1_234_567_890)!;
    const step = row.time / 30;
    for (const [ms, expected] of [
      [(step - 1) * 30_000 - 1, "MFA_CODE_INVALID"],
      [(step - 1) * 30_000, "accepted"],
      [(step + 2) * 30_000 - 1, "accepted"],
      [(step + 2) * 30_000, "MFA_CODE_INVALID"],
    ] as const) {
      const id = await enrolled();
      vi.useFakeTimers({ toFake: ["Date"], now: ms });
      const outcome = await mfa.confirmEnrolment(id, six(row.SHA1), by).then(
        () => "accepted",
        (err: AppError) => err.code,
      );
      expect(outcome, new Date(ms).toISOString()).toBe(expected);
    }
  });

  it("AUTH-8: once a step is used, no code of that step or an earlier one is accepted again", async () => {
    const id = await enrolled();
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(SEED), digits: 6, period: 30 });
    at(1_234_567_890);
    await mfa.confirmEnrolment(id, totp.generate({ timestamp: 1_234_567_890_000 }), by);
    at(1_234_567_890 + 30);
    // The previous step's code is still inside the window, but older than the step already used.
    expect(await mfa.verify(id, totp.generate({ timestamp: 1_234_567_890_000 }))).toBe(false);
    expect(await mfa.verify(id, totp.generate({ timestamp: (1_234_567_890 + 30) * 1000 }))).toBe(true);
    expect(await mfa.verify(id, totp.generate({ timestamp: (1_234_567_890 + 30) * 1000 }))).toBe(false);
  });
});
