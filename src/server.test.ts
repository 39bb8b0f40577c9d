import { mkdtempSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { generate } from "selfsigned";
import { describe, expect, it } from "vitest";
import { silentLog, testConfig } from "../test/harness.js";
import { PUBLIC } from "./auth/requirements.js";
import { Database } from "./db/database.js";
import { waitForDatabase } from "./db/wait.js";
import { createLogger } from "./log/logger.js";
import { start } from "./server.js";

const tmp = () => mkdtempSync(join(tmpdir(), "bulwark-"));

describe("server lifecycle", () => {
  it("OPS-1: start-up waits for an unreachable database with a log line per attempt, then fails clearly", async () => {
    const lines: string[] = [];
    const log = createLogger({ level: "info", stream: { write: (s: string) => void lines.push(s) } });
    const db = Database.open(testConfig({ DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" }), silentLog);
    await expect(waitForDatabase(db, 1, log)).rejects.toThrow(/Database not reachable after 1 s/);
    await db.close();
    const waits = lines.filter((l) => l.includes("waiting for the database"));
    expect(waits.length).toBeGreaterThanOrEqual(2);
  });

  it("OPS-3: shutdown drains the request in flight, then refuses new connections", async () => {
    const config = testConfig({ PORT: "0", BULWARK_DATA_DIR: tmp() });
    const running = await start(config, {
      log: silentLog,
      routes: (app) => {
        app.get("/test/slow", { config: { security: PUBLIC } }, async () => {
          await new Promise((r) => setTimeout(r, 400));
          return { done: true };
        });
      },
    });
    const inFlight = fetch(`${running.url}/test/slow`);
    await new Promise((r) => setTimeout(r, 100));
    const closed = running.close();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ done: true });
    await closed;
    await expect(fetch(`${running.url}/health/live`)).rejects.toThrow();
  });

  it("HDR-4: built-in TLS serves HTTPS with TLS 1.2 as the minimum", async () => {
    const dir = tmp();
    const pems = await generate([{ name: "commonName", value: "localhost" }], {
      keySize: 2048,
      notAfterDate: new Date(Date.now() + 86_400_000),
    });
    writeFileSync(join(dir, "cert.pem"), pems.cert);
    writeFileSync(join(dir, "key.pem"), pems.private);
    const config = testConfig({
      PORT: "0",
      BULWARK_DATA_DIR: dir,
      TLS_CERT_FILE: join(dir, "cert.pem"),
      TLS_KEY_FILE: join(dir, "key.pem"),
      HTTPS_POLICY: "reject",
    });
    const running = await start(config, { log: silentLog });
    try {
      const port = Number(new URL(running.url).port);
      expect(running.url).toMatch(/^https:/);
      // Over TLS the HTTPS policy is satisfied without any proxy header.
      const status = await new Promise<number>((resolve, reject) => {
        httpsRequest(
          { host: "127.0.0.1", port, path: "/security.json", rejectUnauthorized: false },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        )
          .on("error", reject)
          .end();
      });
      expect(status).toBe(200);
      const handshake = (maxVersion: "TLSv1.1" | "TLSv1.2") =>
        new Promise<string>((resolve, reject) => {
          const s = tlsConnect(
            {
              host: "127.0.0.1",
              port,
              rejectUnauthorized: false,
              minVersion: "TLSv1",
              maxVersion,
              ciphers: "DEFAULT@SECLEVEL=0",
            },
            () => {
              const p = s.getProtocol() ?? "";
              s.end();
              resolve(p);
            },
          );
          s.on("error", reject);
        });
      await expect(handshake("TLSv1.2")).resolves.toBe("TLSv1.2");
      await expect(handshake("TLSv1.1")).rejects.toThrow();
    } finally {
      await running.close();
    }
  });
});
