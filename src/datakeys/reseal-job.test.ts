import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createUser, ENGINE, type TestApp, type TestDb, testConfig, testDb } from "../../test/harness.js";
import { buildApp } from "../app.js";
import { Sealer } from "../crypto/seal.js";
import { TOTP_SEED } from "../mfa/tables.js";

const key = (id: string) => `${id}:${randomBytes(32).toString("base64")}`;
const K1 = key("k1");
const K2 = key("k2");
const SECRET = randomBytes(32).toString("base64url");

/**
 * DATA-1: the background re-sealing job. A server whose DATA_KEYS (here from DATA_KEYS_FILE) put a new
 * key first re-seals the values under the older keys by itself, five seconds after start (then hourly:
 * the scheduler's periods are src/jobs/jobs.test.ts's), recorded as job `datakeys.reseal`; the values
 * still open, now under the new key.
 */
describe(`DATA-1 re-sealing in the background (${ENGINE})`, { timeout: 60_000 }, () => {
  let d: TestDb;
  const dir = mkdtempSync(join(tmpdir(), "bulwark-keys-"));
  beforeAll(async () => {
    d = await testDb();
  });
  afterAll(async () => {
    await d?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => vi.useRealTimers());

  const serve = async (env: Record<string, string>) => {
    const config = testConfig({ BULWARK_SECRET: SECRET, ...env });
    const app = await buildApp(config, { db: d.db });
    await app.ready();
    return { app, config, db: d.db, logs: [], rawLogs: [], close: () => app.close() } as TestApp;
  };

  it("DATA-1: with a new key first, the server re-seals older values by itself, and they still open", async () => {
    const first = await serve({ DATA_KEYS: K1 });
    const seeds = new Map<string, string>();
    for (const email of ["one@example.org", "two@example.org"]) {
      const id = await createUser(first, email, "reseal passphrase 1");
      seeds.set(id, (await first.app.bulwark.service("mfa").startEnrolment(id, email)).secret);
    }
    await first.close();
    const stored = () =>
      d.db.global.selectFrom("mfa_totp").select(["principal_id", "secret_sealed"]).execute();
    expect((await stored()).map((r) => r.secret_sealed.split(".")[0])).toEqual(["k1", "k1"]);

    // The rotated list from a secret file, as a container would mount it.
    const file = join(dir, "data-keys");
    writeFileSync(file, `${K2},${K1}\n`, { mode: 0o600 });
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
    const second = await serve({ DATA_KEYS_FILE: file });
    try {
      expect(second.config.dataKeys.ids).toEqual(["k2", "k1"]);
      await vi.advanceTimersByTimeAsync(4_000);
      expect((await stored()).map((r) => r.secret_sealed.split(".")[0])).toEqual(["k1", "k1"]);
      await vi.advanceTimersByTimeAsync(1_000);
      // The run ends once every field is re-sealed and what remains is counted.
      const jobs = second.app.bulwark.service("jobs");
      await vi.waitFor(
        async () => expect(await jobs.list(10, "datakeys.reseal")).toMatchObject([{ status: "succeeded" }]),
        { timeout: 20_000, interval: 20 },
      );
      expect((await stored()).map((r) => r.secret_sealed.split(".")[0])).toEqual(["k2", "k2"]);
      // The two seeds and every signing key's private half, sealed under k1 by the first start.
      const keys = await d.db.global.selectFrom("signing_keys").select("private_jwk").execute();
      expect(keys.map((k) => k.private_jwk.split(".")[0])).toEqual(keys.map(() => "k2"));
      const runs = await jobs.list(10, "datakeys.reseal");
      expect(runs).toMatchObject([{ status: "succeeded", rows: 2 + keys.length }]);
      const sealer = new Sealer(second.config.dataKeys);
      for (const r of await stored())
        expect(sealer.open(r.secret_sealed, TOTP_SEED, r.principal_id)).toBe(seeds.get(r.principal_id));
    } finally {
      await second.close();
    }
  });
});
