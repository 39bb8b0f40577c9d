import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { connect, createServer as createNetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { connect as tlsConnect } from "node:tls";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { generate } from "selfsigned";
import { describe, expect, it, vi } from "vitest";
import { PG_URL, REDIS_URL, silentLog, testConfig } from "../test/harness.js";
import { needs } from "../test/services.js";
import { createLogger } from "./log/logger.js";
import { type Running, start } from "./server.js";

const tmp = () => mkdtempSync(join(tmpdir(), "bulwark-"));

/** A port nothing listens on yet (taken again only when a test listens on it). */
async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createNetServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A logger whose lines a test can read. */
function capturedLog(): { log: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    log: createLogger({ level: "info", stream: { write: (s: string) => void lines.push(s) } }),
  };
}

describe("server lifecycle", () => {
  it("OPS-1: start() waits for an unreachable database with a log line per attempt, then fails clearly", async () => {
    const { log, lines } = capturedLog();
    const config = testConfig({
      PORT: "0",
      BULWARK_DATA_DIR: tmp(),
      DATABASE_URL: "postgres://nobody@127.0.0.1:1/none",
      DATABASE_WAIT_SECONDS: "1",
    });
    await expect(start(config, { log })).rejects.toThrow(/^Database not reachable after 1 s: /);
    expect(lines.filter((l) => l.includes('"waiting for the database"')).length).toBeGreaterThanOrEqual(2);
  });

  it.runIf(needs("postgres"))(
    "OPS-1: start() waits for a PostgreSQL that is not reachable yet, then migrates and serves once it is",
    async () => {
      // The database's port is closed until the test opens it: a TCP relay to the real PostgreSQL.
      const target = new URL(PG_URL!);
      const port = await freePort();
      const schema = `bw_t_${randomBytes(6).toString("hex")}`;
      const url = new URL(PG_URL!);
      url.port = String(port);
      const { log, lines } = capturedLog();
      const starting = start(
        testConfig({
          PORT: "0",
          BULWARK_DATA_DIR: tmp(),
          DATABASE_URL: url.href,
          DATABASE_SCHEMA: schema,
          DATABASE_POOL_MAX: "2",
          DATABASE_WAIT_SECONDS: "120",
        }),
        { log },
      );
      const failed = starting.then(
        () => "started",
        (err: Error) => err.message,
      );
      const sockets = new Set<Socket>();
      const relay = createNetServer((client) => {
        const upstream = connect(Number(target.port || 5432), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on("error", () => {});
          s.on("close", () => sockets.delete(s));
        }
        client.pipe(upstream).pipe(client);
      });
      let running: Running | undefined;
      try {
        // Not before start() has found the database unreachable and said it is waiting.
        await vi.waitFor(
          () => expect(lines.some((l) => l.includes('"waiting for the database"'))).toBe(true),
          { timeout: 20_000, interval: 20 },
        );
        expect(await Promise.race([failed, "still waiting"])).toBe("still waiting");
        await new Promise<void>((r) => relay.listen(port, "127.0.0.1", r));
        running = await starting;
        const reachable = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "database reachable");
        expect(reachable?.attempt).toBeGreaterThan(1);
        expect(lines.some((l) => l.includes('"migrations applied"'))).toBe(true);
        const health = await fetch(`${running.url}/health`);
        expect(health.status).toBe(200);
        expect(
          ((await health.json()) as { checks: { database: { status: string } } }).checks.database.status,
        ).toBe("up");
      } finally {
        await running?.close();
        await failed;
        for (const s of sockets) s.destroy();
        relay.close();
        const admin = new pg.Client({ connectionString: PG_URL });
        await admin.connect();
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await admin.end();
      }
    },
    60_000,
  );

  describe("OPS-3: SIGTERM to the server started by the CLI, in a process of its own", () => {
    /**
     * `bulwark start` (src/cli/index.ts, the entry `npm start` runs once built) in a child process: its
     * sources run as they are, through test/run-ts.mjs. Resolves once it listens.
     */
    async function serve(env: Record<string, string>) {
      const child = spawn(process.execPath, ["--import", "./test/run-ts.mjs", "src/cli/index.ts", "start"], {
        cwd: fileURLToPath(new URL("..", import.meta.url)),
        env: {
          PATH: process.env.PATH ?? "",
          NODE_ENV: "test",
          LOG_LEVEL: "info",
          HOST: "127.0.0.1",
          PORT: "0",
          HTTPS_POLICY: "off",
          BULWARK_DATA_DIR: tmp(),
          // Counters of this server alone: a run's sign-in and mail limits must not carry into the next.
          ...(REDIS_URL ? { REDIS_URL, REDIS_PREFIX: `bw_t_${randomBytes(6).toString("hex")}:` } : {}),
          ...env,
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      const lines: Array<{ msg?: string; url?: string }> = [];
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      createInterface({ input: child.stdout }).on("line", (l) => {
        try {
          lines.push(JSON.parse(l));
        } catch {
          lines.push({ msg: l });
        }
      });
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      const logged = (msg: string) => lines.some((l) => l.msg === msg);
      await vi.waitFor(
        () => {
          if (child.exitCode !== null) throw new Error(`the server exited: ${stderr}`);
          expect(logged("Bulwark listening")).toBe(true);
        },
        { timeout: 60_000, interval: 50 },
      );
      const url = new URL(lines.find((l) => l.msg === "Bulwark listening")!.url!);
      return { child, lines, exited, logged, port: Number(url.port) };
    }

    /**
     * A request the server has accepted and is handling (it answered `100 Continue`), whose body has not
     * all arrived: it stays in flight until `finish` sends the rest.
     */
    async function inFlight(port: number) {
      const body = JSON.stringify({ email: "drain@example.org" });
      const socket = connect(port, "127.0.0.1");
      let received = "";
      socket.on("data", (d: Buffer) => {
        received += d.toString();
      });
      const closed = new Promise<void>((r) => socket.once("close", () => r()));
      socket.on("error", () => {});
      socket.write(
        `POST /v1/auth/password/forgot HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n${body.slice(0, 5)}`,
      );
      await vi.waitFor(() => expect(received).toMatch(/^HTTP\/1\.1 100 Continue/), {
        timeout: 10_000,
        interval: 10,
      });
      return {
        received: () => received,
        closed,
        // The rest of the body, with the socket left open as a real client leaves it until the answer
        // comes: a client's FIN makes Node abort the request it is still handling.
        finish: () => socket.write(body.slice(5)),
      };
    }

    /** Whether a new connection to the port is refused (the listener is closed). */
    const refused = (port: number) =>
      new Promise<boolean>((resolve) => {
        const s = connect(port, "127.0.0.1");
        s.once("connect", () => {
          s.destroy();
          resolve(false);
        });
        s.once("error", () => resolve(true));
      });

    it("OPS-3: on SIGTERM it stops accepting connections, answers the request in flight, then exits 0", async () => {
      const server = await serve({ SHUTDOWN_TIMEOUT_MS: "60000" });
      try {
        const request = await inFlight(server.port);
        server.child.kill("SIGTERM");
        await vi.waitFor(() => expect(server.logged("shutting down: draining requests")).toBe(true), {
          timeout: 10_000,
          interval: 10,
        });
        await vi.waitFor(async () => expect(await refused(server.port)).toBe(true), {
          timeout: 10_000,
          interval: 20,
        });
        // Still draining: the request in flight keeps it alive.
        expect(server.child.exitCode).toBeNull();
        expect(server.logged("shutdown complete")).toBe(false);
        request.finish();
        await request.closed;
        expect(request.received()).toMatch(
          /\r\nHTTP\/1\.1 202 Accepted\r\n[\s\S]*"reset_mail_sent_if_account_exists"/,
        );
        expect(await server.exited).toBe(0);
        expect(server.logged("shutdown complete")).toBe(true);
      } finally {
        server.child.kill("SIGKILL");
      }
    }, 90_000);

    it("OPS-3: a request still in flight when SHUTDOWN_TIMEOUT_MS runs out does not hold the process: it exits 1", async () => {
      const server = await serve({ SHUTDOWN_TIMEOUT_MS: "1000" });
      try {
        const request = await inFlight(server.port);
        server.child.kill("SIGTERM");
        expect(await server.exited).toBe(1);
        expect(server.logged("drain timed out; exiting")).toBe(true);
        expect(server.logged("shutdown complete")).toBe(false);
        await request.closed;
        // The request never got an answer: the drain gave up on it.
        expect(request.received()).not.toMatch(/HTTP\/1\.1 [2-5]\d\d/);
      } finally {
        server.child.kill("SIGKILL");
      }
    }, 90_000);
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
