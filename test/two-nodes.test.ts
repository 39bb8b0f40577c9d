import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { PG_URL, REDIS_URL } from "./harness.js";
import { needs } from "./services.js";

/**
 * Two Bulwark nodes, as a cluster runs them (OPS-4): two real `bulwark start` processes on one
 * PostgreSQL schema and one Redis (same key prefix), spoken to over real HTTP. A limit holds once for
 * the cluster, not once per node; a revocation made on one node holds on the other at once.
 */
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const KEY_LIMIT = 10;
const LOGIN_ATTEMPTS = 4;
const EMAIL = "two-nodes@example.org";
const PASSWORD = "correct horse battery staple 42";
const SECRET = randomBytes(32).toString("base64url");
const SCHEMA = `bw_t_${randomBytes(6).toString("hex")}`;
const PREFIX = `bw_t_${randomBytes(6).toString("hex")}:`;

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies.
type Json = any;

interface Node {
  readonly child: ChildProcessWithoutNullStreams;
  readonly base: string;
  readonly dataDir: string;
  readonly exited: Promise<number | null>;
  readonly output: () => string;
}

const children: ChildProcessWithoutNullStreams[] = [];

/**
 * `bulwark start` (src/cli/index.ts, what `npm start` runs once built) in a process of its own, its
 * sources run as they are through test/run-ts.mjs, with nothing of this process's environment but PATH.
 */
function cli(env: Record<string, string>, args: string[] = ["start"]) {
  const child = spawn(process.execPath, ["--import", "./test/run-ts.mjs", "src/cli/index.ts", ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.push(child);
  const lines: string[] = [];
  child.stdout.on("data", (d: Buffer) => lines.push(d.toString()));
  child.stderr.on("data", (d: Buffer) => lines.push(d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited, output: () => lines.join("") };
}

/** One node of the cluster: its own data directory and port, the shared database, Redis and secret. */
async function startNode(name: string, extra: Record<string, string> = {}): Promise<Node> {
  const dataDir = mkdtempSync(join(tmpdir(), `bulwark-${name}-`));
  const { child, exited, output } = cli({
    NODE_ENV: "development",
    LOG_LEVEL: "info",
    ACCESS_LOG: "off",
    HOST: "127.0.0.1",
    PORT: "0",
    BULWARK_DATA_DIR: dataDir,
    // Every node of a cluster shares its root secret (CSRF tokens are keyed on it).
    BULWARK_SECRET: SECRET,
    CATALOG_EXAMPLE: "false",
    DATABASE_URL: PG_URL ?? "",
    DATABASE_SCHEMA: SCHEMA,
    DATABASE_POOL_MAX: "4",
    REDIS_URL: REDIS_URL ?? "",
    REDIS_PREFIX: PREFIX,
    BULWARK_CLUSTER: "true",
    RATE_LIMIT_KEY_PER_MINUTE: String(KEY_LIMIT),
    RATE_LIMIT_IP_PER_MINUTE: "100000",
    RATE_LIMIT_USER_PER_MINUTE: "100000",
    RATE_LIMIT_ORG_PER_MINUTE: "100000",
    LOGIN_MAX_ATTEMPTS: String(LOGIN_ATTEMPTS),
    ...extra,
  });
  const listening = () => {
    for (const line of output().split("\n")) {
      if (!line.includes('"Bulwark listening"')) continue;
      return (JSON.parse(line) as { url: string }).url;
    }
    return undefined;
  };
  await vi.waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`node ${name} exited (${child.exitCode}):\n${output()}`);
      expect(listening(), `node ${name} is not listening yet`).toBeDefined();
    },
    { timeout: 60_000, interval: 50 },
  );
  return { child, base: listening()!, dataDir, exited, output };
}

/** SIGTERM, then SIGKILL if it has not exited within 10 s. */
async function stop(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const killed = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await gone;
  clearTimeout(killed);
}

async function call(
  node: Node,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; json: Json; headers: Headers }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(node.base + path, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    redirect: "manual",
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** The verification link's token from the `.eml` file a node without SMTP_URL wrote. */
async function verificationToken(node: Node): Promise<string> {
  const dir = join(node.dataDir, "mail");
  let token: string | undefined;
  await vi.waitFor(
    () => {
      const files = (() => {
        try {
          return readdirSync(dir);
        } catch {
          return [];
        }
      })();
      // Quoted-printable: soft line breaks joined, `=3D` back to `=`.
      const mail = files
        .map((f) => readFileSync(join(dir, f), "utf8"))
        .join("\n")
        .replace(/=\r?\n/g, "")
        .replace(/=3D/gi, "=");
      token = /verify-email\?token=([A-Za-z0-9_-]+)/.exec(mail)?.[1];
      expect(token, "no verification mail yet").toBeDefined();
    },
    { timeout: 10_000, interval: 50 },
  );
  return token!;
}

/** Resolves when the current 60 s window (aligned to epoch minutes, as the limiter's) has `ms` left. */
async function windowWithRoom(ms: number): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < ms) await new Promise((r) => setTimeout(r, left + 100));
}

describe.runIf(needs("postgres") && needs("redis"))(
  "two Bulwark nodes on one PostgreSQL and one Redis",
  () => {
    let one: Node;
    let two: Node;
    let session: Record<string, string>;
    let orgId: string;

    /** Creates an org:read key through node 1; returns its id and the key itself. */
    async function newKey(name: string): Promise<{ id: string; key: string }> {
      const made = await call(one, "POST", `/v1/orgs/${orgId}/api-keys`, {
        headers: session,
        body: { name, scopes: ["org:read"] },
      });
      expect(made.status, JSON.stringify(made.json)).toBe(201);
      return { id: made.json.apiKey.id, key: made.json.key };
    }

    beforeAll(async () => {
      // Node 1 migrates the fresh schema as it starts; node 2 starts on it once node 1 serves.
      one = await startNode("one");
      two = await startNode("two");

      // A verified user with an organisation, all through the API: signed up on node 1 (the mail lands
      // in its data directory), verified on node 2, signed in on node 1.
      const signup = await call(one, "POST", "/v1/auth/signup", {
        body: { email: EMAIL, password: PASSWORD },
      });
      expect(signup.status, JSON.stringify(signup.json)).toBe(202);
      const verified = await call(two, "POST", "/v1/auth/verify-email", {
        body: { token: await verificationToken(one) },
      });
      expect(verified.status, JSON.stringify(verified.json)).toBe(200);
      const login = await call(one, "POST", "/v1/auth/login", { body: { email: EMAIL, password: PASSWORD } });
      expect(login.status, JSON.stringify(login.json)).toBe(200);
      const cookie = login.headers.getSetCookie()[0]?.split(";")[0] ?? "";
      session = { cookie, "x-csrf-token": login.json.csrfToken };
      const org = await call(one, "POST", "/v1/orgs", { headers: session, body: { name: "Two Nodes" } });
      expect(org.status, JSON.stringify(org.json)).toBe(201);
      orgId = org.json.org.id;
    }, 150_000);

    afterAll(async () => {
      await Promise.all(children.map(stop));
      if (PG_URL) {
        const client = new pg.Client({ connectionString: PG_URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
        await client.end();
      }
      if (REDIS_URL) {
        const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
        await redis.connect();
        const keys = await redis.keys(`${PREFIX}*`);
        if (keys.length) await redis.del(...keys);
        redis.disconnect();
      }
    }, 30_000);

    it("OPS-4: with BULWARK_CLUSTER and no REDIS_URL, `bulwark start` refuses to start and names REDIS_URL", async () => {
      const { exited, output } = cli({
        NODE_ENV: "development",
        LOG_LEVEL: "info",
        HOST: "127.0.0.1",
        PORT: "0",
        BULWARK_DATA_DIR: mkdtempSync(join(tmpdir(), "bulwark-no-redis-")),
        BULWARK_CLUSTER: "true",
      });
      // Bounded: a node that starts anyway is stopped after 30 s, and the test fails.
      const code = await Promise.race([
        exited,
        new Promise<string>((r) => setTimeout(() => r("still running after 30 s"), 30_000).unref()),
      ]);
      expect(code, output()).toBe(1);
      expect(output()).toMatch(/BULWARK_CLUSTER.*REDIS_URL/);
      expect(output()).not.toMatch(/Bulwark listening/);
    }, 60_000);

    it(`RATE-1/RATE-2: a per-key limit of ${KEY_LIMIT}/min holds as ${KEY_LIMIT} across both nodes together, not ${2 * KEY_LIMIT}`, async () => {
      const { key } = await newKey("limited");
      await windowWithRoom(20_000);
      const replies = await Promise.all(
        Array.from({ length: 2 * KEY_LIMIT }, (_, i) =>
          call(i % 2 ? two : one, "GET", `/v1/orgs/${orgId}`, { headers: { "x-api-key": key } }),
        ),
      );
      const statuses = replies.map((r) => r.status);
      expect(statuses.filter((s) => s === 200).length, statuses.join(" ")).toBe(KEY_LIMIT);
      expect(statuses.filter((s) => s === 429).length, statuses.join(" ")).toBe(KEY_LIMIT);
      // Both nodes served some and refused some: each counted the other's requests.
      for (const parity of [0, 1]) {
        const mine = statuses.filter((_, i) => i % 2 === parity);
        expect(mine, `node ${parity + 1}: ${mine.join(" ")}`).toContain(200);
      }
      const refused = replies.find((r) => r.status === 429)!;
      expect(refused.json.error.code).toBe("RATE_LIMITED");
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(refused.headers.get("x-ratelimit-limit")).toBe(String(KEY_LIMIT));
      // Still refused on either node afterwards.
      for (const node of [one, two])
        expect((await call(node, "GET", `/v1/orgs/${orgId}`, { headers: { "x-api-key": key } })).status).toBe(
          429,
        );
    }, 60_000);

    it("KEY-4/OPS-4: a key revoked through node 1 is refused by node 2 on its very next request", async () => {
      const { id, key } = await newKey("revoked");
      const use = (node: Node) => call(node, "GET", `/v1/orgs/${orgId}`, { headers: { "x-api-key": key } });
      // Node 2 has verified the key and holds it in its cache (10 s): only the invalidation can stop it.
      expect((await use(two)).status).toBe(200);
      expect((await use(two)).status).toBe(200);
      const revoked = await call(one, "DELETE", `/v1/orgs/${orgId}/api-keys/${id}`, { headers: session });
      expect(revoked.status, JSON.stringify(revoked.json)).toBe(204);
      const next = await use(two);
      expect(next.status, JSON.stringify(next.json)).toBe(401);
      expect((await use(one)).status).toBe(401);
    }, 60_000);

    it("AUDIT-4: 8 concurrent writers × 500 events on one organisation, through both nodes, build one log that verifies", async () => {
      const nodes = [one, two];
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          for (let i = 0; i < 500; i++) {
            const res = await call(nodes[(w + i) % 2]!, "POST", `/v1/orgs/${orgId}/audit-events`, {
              headers: session,
              body: { action: "load.written", metadata: { writer: w, i } },
            });
            if (res.status !== 201)
              throw new Error(`writer ${w}, event ${i}: ${res.status} ${JSON.stringify(res.json)}`);
          }
        }),
      );
      // `bulwark audit verify` in a process of its own, on the database both nodes wrote (their request
      // records, buffered, reach it within 100 ms).
      await new Promise((r) => setTimeout(r, 500));
      const { exited, output } = cli(
        {
          NODE_ENV: "development",
          BULWARK_SECRET: SECRET,
          // The same PUBLIC_URL as the nodes (it follows PORT): the checkpoint key is named after its host.
          PORT: "0",
          DATABASE_URL: PG_URL ?? "",
          DATABASE_SCHEMA: SCHEMA,
          BULWARK_DATA_DIR: one.dataDir,
        },
        ["audit", "verify", "--org", orgId],
      );
      expect(await exited, output()).toBe(0);
      const [, entries] = /^ok {3}org_\w+: (\d+) entries/m.exec(output()) ?? [];
      expect(Number(entries), output()).toBeGreaterThanOrEqual(8000);
    }, 180_000);

    it(`AUTH-7: the sign-in limit (${LOGIN_ATTEMPTS} failures per address) holds across both nodes together`, async () => {
      const nodes = [one, two];
      const attempt = (i: number, password: string) =>
        call(nodes[i % 2]!, "POST", "/v1/auth/login", { body: { email: EMAIL, password } });
      for (let i = 0; i < LOGIN_ATTEMPTS; i++) {
        const wrong = await attempt(i, `not the password ${i}`);
        expect(wrong.status, `attempt ${i + 1}: ${JSON.stringify(wrong.json)}`).toBe(401);
      }
      // The next attempt, on either node, is refused: even with the right password.
      for (let i = 0; i < 2; i++) {
        const refused = await attempt(LOGIN_ATTEMPTS + i, PASSWORD);
        expect(
          refused.status,
          `node ${((LOGIN_ATTEMPTS + i) % 2) + 1}: ${JSON.stringify(refused.json)}`,
        ).toBe(429);
        expect(refused.json.error.code).toBe("RATE_LIMITED");
        expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      }
    }, 60_000);
  },
);
