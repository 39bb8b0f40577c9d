// npm run bench: each case in its own server process, measured with autocannon from this process, and
// reported as a ratio to bare node:http and bare Fastify measured in the same run (machines are noisy;
// ratios hold better, and --rounds N reports each figure's median over N rounds). Bounded: every case runs
// for --duration seconds after a short warm-up. Rate limits run in every Bulwark case, raised out of reach
// by the bench server (bench/servers/bulwark.js).
//
// --pg adds the PostgreSQL + Redis cases (--pg-url, default BENCH_DATABASE_URL or the local test database;
// --redis-url, default BENCH_REDIS_URL or the local Redis): each server works in a schema of its own and
// a Redis prefix of its own, dropped when it stops. They are reported against bare Fastify doing the same
// SELECT through `pg`, measured in the same run.
//
// Every answer must be 2xx: a case that gets anything else (a 429 from a limit left in reach, a 503 from
// an unreachable Redis) is reported at once, with a sample answer, and the run exits non-zero.
//
// The audit log: a write (POST products with an API key) with AUDIT_LOG=on against the same with
// AUDIT_LOG=off, and then (bench/audit-verify.js, its own process) the speed of `bulwark audit verify`
// over an SQLite log of --verify-entries entries (0 skips it). `--only audit` runs just these (and the
// baselines); `--only verify` just the verification; `--only webhooks` just webhook delivery (bench/webhooks.js).
import { fork, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "8" },
    connections: { type: "string", default: "50" },
    // Every case this many times, round after round; the table shows each figure's median.
    rounds: { type: "string", default: "1" },
    only: { type: "string" },
    "verify-entries": { type: "string", default: "300000" },
    pg: { type: "boolean", default: false },
    "pg-url": {
      type: "string",
      default: process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
    },
    "redis-url": { type: "string", default: process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379" },
  },
});
const duration = Number(values.duration);
const connections = Number(values.connections);
const rounds = Math.max(1, Number(values.rounds));

const PROXIED = { "x-forwarded-proto": "https", "x-forwarded-for": "198.51.100.7" };
const SQLITE_FLOOR = "fastify + SQLite SELECT (no auth/limits)";
const PG_FLOOR = "fastify + pg SELECT (no auth/limits)";
/** The limiters an API-key tenant read passes (RATE-1): per address, per key, per organisation. */
const KEY_POLICIES = ["ip", "key", "org"];
/** On PostgreSQL + Redis: a schema and a Redis prefix per server, and no failing open (RATE-5). */
const onPg = () => ({
  BENCH_DATABASE_URL: values["pg-url"],
  REDIS_URL: values["redis-url"],
  REDIS_PREFIX: `bench-${randomBytes(6).toString("hex")}:`,
  RATE_LIMIT_ON_STORE_ERROR: "closed",
});

let sku = 0;
/** A new product per request: SKUs are unique in an organisation (a repeat is a 409 SKU_TAKEN). */
const newProduct = () =>
  JSON.stringify({
    name: "Teapot",
    sku: `BENCH-${process.pid}-${++sku}`,
    priceCents: 2500,
    stock: 10,
    descriptionHtml: "<p>Fine porcelain</p>",
  });
/** An API key that may write products (the audit write cases). */
const WRITE_KEY = { BENCH_APIKEY: "1", BENCH_APIKEY_SCOPES: "products:read,products:write" };

/** The cases; baselines first. Later issues add theirs here. */
const CASES = [
  { name: "node:http", server: "servers/node-http.js", path: "/health/live", baseline: true },
  { name: "fastify (bare)", server: "servers/fastify.js", path: "/health/live", baseline: true },
  {
    name: "fastify + Bulwark's headers",
    server: "servers/fastify-headers.js",
    path: "/health/live",
    baseline: true,
    floor: true,
  },
  {
    // What the tenant read itself costs here: the same row through a prepared better-sqlite3 statement.
    name: SQLITE_FLOOR,
    server: "servers/fastify-sqlite.js",
    path: "@product",
    baseline: true,
  },
  { name: "bulwark GET /health/live", server: "servers/bulwark.js", path: "/health/live", headers: PROXIED },
  {
    name: "  same, ACCESS_LOG=all",
    server: "servers/bulwark.js",
    path: "/health/live",
    headers: PROXIED,
    env: { ACCESS_LOG: "all" },
  },
  {
    name: "bulwark GET /v1/me (session)",
    server: "servers/bulwark.js",
    path: "/v1/me",
    headers: PROXIED,
    env: { BENCH_SESSION: "1" },
    policies: ["ip", "user"],
  },
  {
    name: "bulwark GET /v1/orgs/:orgId/products/:id",
    server: "servers/bulwark.js",
    path: "@product",
    headers: PROXIED,
    env: { BENCH_SESSION: "1" },
    policies: ["ip", "user", "org"],
  },
  {
    // The whole stack for an API client: key shape and checksum, key cache, pins, scope, the per-address,
    // per-key and per-organisation limits and their headers, the tenant check and the scoped read.
    name: "bulwark GET products/:id (API key)",
    server: "servers/bulwark.js",
    path: "@product",
    headers: PROXIED,
    env: { BENCH_APIKEY: "1" },
    apiKey: true,
    policies: KEY_POLICIES,
    target: { of: "fastify (bare)", ratio: 0.45 },
    against: SQLITE_FLOOR,
  },
  {
    // An app's client with an access token (AUTH-9): the JWT (ES256, verified once, then its expiry and
    // key checked per request), the member's current role, scopes, the limits and the scoped read.
    name: "bulwark GET products/:id (Bearer JWT)",
    server: "servers/bulwark.js",
    path: "@product",
    headers: PROXIED,
    env: { BENCH_TOKEN: "1" },
    bearer: true,
    policies: ["ip", "user", "org"],
    target: { of: "fastify (bare)", ratio: 0.4 },
    against: SQLITE_FLOOR,
  },
  {
    name: "bulwark POST /v1/auth/login (argon2)",
    server: "servers/bulwark.js",
    path: "/v1/auth/login",
    method: "POST",
    body: JSON.stringify({ email: "bench@example.org", password: "bench passphrase 123" }),
    headers: { ...PROXIED, "content-type": "application/json" },
    env: { BENCH_SESSION: "1" },
    // Sign-in reserves an attempt per address before hashing (AUTH-7): at most 5 in flight per client
    // address. 50 connections from one address would measure 429s; real sign-ins come from many.
    spreadAddresses: true,
  },
  {
    // What auditing a write costs (AUDIT-1): the request record, buffered and written in batches, against
    // the same write with the audit log off. A case's name must contain "audit" for --only audit.
    name: "bulwark POST products (key, audit on)",
    server: "servers/bulwark.js",
    path: "@products",
    method: "POST",
    body: newProduct,
    headers: { ...PROXIED, "content-type": "application/json" },
    env: { ...WRITE_KEY, AUDIT_LOG: "on" },
    apiKey: true,
    policies: KEY_POLICIES,
    target: { of: "  same, audit off", ratio: 0.85 },
  },
  {
    name: "  same, audit off",
    server: "servers/bulwark.js",
    path: "@products",
    method: "POST",
    body: newProduct,
    headers: { ...PROXIED, "content-type": "application/json" },
    env: { ...WRITE_KEY, AUDIT_LOG: "off" },
    apiKey: true,
    policies: KEY_POLICIES,
  },
  // --pg: the same API-key read on PostgreSQL (row-level security, a transaction per read) with the
  // limits' counters in Redis, against bare Fastify doing the same SELECT through `pg`.
  {
    name: PG_FLOOR,
    server: "servers/fastify-pg.js",
    path: "@product",
    baseline: true,
    pg: true,
    env: () => ({ BENCH_DATABASE_URL: values["pg-url"] }),
  },
  {
    name: "  same API key read, PostgreSQL + Redis",
    server: "servers/bulwark.js",
    path: "@product",
    headers: PROXIED,
    env: () => ({ BENCH_APIKEY: "1", ...onPg() }),
    apiKey: true,
    policies: KEY_POLICIES,
    pg: true,
    against: PG_FLOOR,
  },
];

let address = 0;
/** Each request from another client address (documentation range 198.18.0.0/15), via the trusted proxy. */
const fromManyAddresses = (req) => {
  address = (address + 1) % 65_536;
  return {
    ...req,
    headers: { ...req.headers, "x-forwarded-for": `198.18.${address >> 8}.${address & 255}` },
  };
};

function startServer(script, env = {}) {
  return new Promise((resolve, reject) => {
    const child = fork(new URL(script, import.meta.url), [], {
      // BENCH_PROFILE=<dir> writes each server's V8 CPU profile there (Chrome DevTools, or
      // bench/profile.js); BENCH_PERF=<dir> records the measured window with Linux perf (bench/perf.js).
      execArgv: [
        ...(process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []),
        ...(process.env.BENCH_PERF ? ["--perf-basic-prof"] : []),
      ],
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    child.once("message", (m) =>
      resolve({
        child,
        port: m.port,
        cookie: m.cookie,
        apiKey: m.apiKey,
        bearer: m.bearer,
        paths: m.paths ?? {},
      }),
    );
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code} before it was ready`)));
  });
}

/**
 * BENCH_PERF=<dir>: `perf record` of the server over the measured window (CPU time, kernel included,
 * unlike V8's profiler, which samples on a wall clock and charges a server preempted by the load generator
 * to whatever it was running). Returns a function that stops it and notes the request count beside it.
 */
function perfRecord(child, name) {
  const dir = process.env.BENCH_PERF;
  if (!dir) return async () => {};
  const file = join(
    dir,
    `${name
      .trim()
      .replace(/[^A-Za-z0-9]+/g, "-")
      .replace(/-$/, "")}.perf.data`,
  );
  const perf = spawn(
    "perf",
    ["record", "-e", "cpu-clock", "-F", "999", "-g", "-p", String(child.pid), "-o", file],
    {
      stdio: "ignore",
    },
  );
  return async (requests) => {
    perf.kill("SIGINT");
    await new Promise((resolve) => perf.once("exit", resolve));
    writeFileSync(`${file}.json`, JSON.stringify({ case: name.trim(), requests }));
    console.error(`perf: ${file} (node bench/perf.js ${file})`);
  };
}

/** The server's CPU time (user + system, µs) so far, asked over IPC. */
function cpuOf(child) {
  return new Promise((resolve) => {
    const on = (m) => {
      if (m?.cpu) {
        child.off("message", on);
        resolve(m.cpu.user + m.cpu.system);
      }
    };
    child.on("message", on);
    child.send({ cmd: "cpu" });
  });
}

/** A case's body: a string, or a function making each request's own (e.g. a unique SKU). */
const bodyOf = (c) => (typeof c.body === "function" ? c.body() : c.body);

function measure(url, headers, seconds, c = {}) {
  const setups = [
    ...(c.spreadAddresses ? [fromManyAddresses] : []),
    ...(typeof c.body === "function" ? [(req) => ({ ...req, body: c.body() })] : []),
  ];
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        connections,
        duration: seconds,
        headers,
        method: c.method ?? "GET",
        body: bodyOf(c),
        ...(setups.length
          ? { requests: [{ setupRequest: (req) => setups.reduce((r, setup) => setup(r), req) }] }
          : {}),
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

/**
 * One request before the warm-up: it must be 2xx and, for a limited route, carry every expected policy in
 * `RateLimit-Policy` (a limiter whose store is unreachable and fails open counts nothing and writes no
 * header: the case would measure less than it claims).
 */
async function probe(c, url, headers) {
  const res = await fetch(url, { method: c.method ?? "GET", headers, body: bodyOf(c) });
  const body = await res.text();
  if (!res.ok) return `${res.status} ${body.slice(0, 300)}`;
  const applied = res.headers.get("ratelimit-policy") ?? "";
  const missing = (c.policies ?? []).filter((p) => !applied.includes(`"${p}"`));
  if (missing.length)
    return `no ${missing.join(", ")} limit in RateLimit-Policy ("${applied}"): the limiter did not count`;
  return undefined;
}

/** One answer that was not 2xx, to say why (the status alone rarely does). */
async function sample(url, headers, c) {
  try {
    const res = await fetch(url, { method: c.method ?? "GET", headers, body: bodyOf(c) });
    return `${res.status} ${(await res.text()).slice(0, 300)}`;
  } catch (err) {
    return err.message;
  }
}

const runs = new Map(CASES.map((c) => [c, []]));
const failures = new Set();
const verifyOnly = values.only === "verify" || values.only === "webhooks";
for (let round = 0; round < rounds && !verifyOnly; round++) {
  for (const c of CASES) {
    if (c.pg && !values.pg) continue;
    if (values.only && !c.baseline && !c.name.includes(values.only)) continue;
    const env = typeof c.env === "function" ? c.env() : c.env;
    const { child, port, cookie, apiKey, bearer, paths } = await startServer(c.server, env);
    try {
      // "@name" paths are created by the server at start (ids of the fixtures it seeded).
      const url = `http://127.0.0.1:${port}${c.path.startsWith("@") ? paths[c.path.slice(1)] : c.path}`;
      const headers = { ...c.headers };
      if (cookie && !c.apiKey && !c.bearer) headers.cookie = cookie;
      if (c.bearer) {
        if (!bearer) throw new Error(`${c.name}: the server handed over no access token`);
        headers.authorization = `Bearer ${bearer}`;
      }
      if (c.apiKey) {
        if (!apiKey) throw new Error(`${c.name}: the server handed over no API key`);
        headers["x-api-key"] = apiKey;
      }
      const wrong = await probe(c, url, headers);
      if (wrong) {
        console.error(`\n✗ ${c.name}: ${wrong}`);
        failures.add(c.name);
        continue;
      }
      await measure(url, headers, 2, c); // warm-up: JIT, pools, caches
      const stopPerf = perfRecord(child, c.name);
      const before = await cpuOf(child);
      const r = await measure(url, headers, duration, c);
      const cpu = (await cpuOf(child)) - before;
      await stopPerf(r.requests.total);
      const bad = r.non2xx + r.errors + r.timeouts;
      if (bad > 0) {
        const codes = Object.entries(r.statusCodeStats ?? {})
          .map(([code, s]) => `${code}: ${s.count}`)
          .join(", ");
        console.error(
          `\n✗ ${c.name}: ${r.non2xx} non-2xx (${codes}), ${r.errors} errors, ${r.timeouts} timeouts of ${r.requests.total}` +
            `\n  e.g. ${await sample(url, headers, c)}`,
        );
        failures.add(c.name);
      }
      runs
        .get(c)
        .push({ rps: r.requests.average, p99: r.latency.p99, bad, cpuPerReq: cpu / r.requests.total });
    } finally {
      child.kill("SIGTERM");
      // Let it drain and drop its schema before the next case starts (never longer than 10 s).
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, 10_000);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/**
 * A benchmark script of its own process (its heap and timers stay out of this one): its one line
 * prefixed "RESULT ", parsed. BENCH_PROFILE profiles it too.
 */
async function measureChild(script, args = []) {
  const child = fork(new URL(script, import.meta.url), args, {
    execArgv: process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [],
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  let out = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  const code = await new Promise((resolve) => child.once("exit", resolve));
  const line = out.split("\n").find((l) => l.startsWith("RESULT "));
  if (code !== 0 || !line) throw new Error(`bench/${script} exited with ${code}: ${out.slice(0, 300)}`);
  return JSON.parse(line.slice("RESULT ".length));
}

/**
 * `bulwark audit verify` over a filled SQLite log (bench/audit-verify.js): with no --only, --only audit or
 * --only verify, and --verify-entries above 0.
 */
const measureVerify = (entries) => measureChild("audit-verify.js", ["--entries", String(entries)]);
const verifyEntries = Number(values["verify-entries"]);
let verified;
if (verifyEntries > 0 && (!values.only || /audit|verify/.test(values.only))) {
  try {
    verified = await measureVerify(verifyEntries);
  } catch (err) {
    console.error(`\n✗ audit verify: ${err.message}`);
    failures.add("audit verify");
  }
}

/** Webhook delivery throughput and commit-to-attempt latency (bench/webhooks.js). */
const measureWebhooks = () => measureChild("webhooks.js");
if (!values.only || values.only === "webhooks") {
  try {
    const w = await measureWebhooks();
    console.log(
      `\nwebhooks: ${w.messages} signed, recorded deliveries (median of ${w.rounds} rounds: ${w.ratios.join(", ")}) at ${Math.round(w.bulwarkPerSecond)}/s vs a bare undici loop at ` +
        `${Math.round(w.barePerSecond)}/s: ${w.ratio.toFixed(2)} (target ≥ ${w.target}: ${w.met ? "met" : "NOT MET"}), ` +
        `${w.cpuMsPerDelivery.toFixed(2)} ms CPU per delivery; commit to first attempt under ${w.latency.published} ` +
        `API messages: p50 ${w.latency.p50} ms, p99 ${w.latency.p99} ms`,
    );
  } catch (err) {
    console.error(`\n✗ webhooks: ${err.message}`);
    failures.add("webhooks");
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const results = [...runs]
  .filter(([, rs]) => rs.length > 0)
  .map(([c, rs]) => ({
    ...c,
    rps: median(rs.map((r) => r.rps)),
    p99: median(rs.map((r) => r.p99)),
    cpuPerReq: median(rs.map((r) => r.cpuPerReq)),
    bad: rs.reduce((n, r) => n + r.bad, 0),
  }));
if (verified) {
  const v = verified;
  console.log(
    `\naudit verify: ${v.entries} entries (${v.checkpoints} signed checkpoints) in ${v.verifySeconds.toFixed(2)} s: ` +
      `${Math.round(v.perSecond)} entries/s (target ≥ ${v.target}: ${v.met ? "met" : "NOT MET"}), ` +
      `${Math.round(v.perCpuSecond)} per CPU-second; filled in ${v.fillSeconds.toFixed(1)} s`,
  );
}
const node = results.find((r) => r.name === "node:http");
const fastify = results.find((r) => r.name === "fastify (bare)");
const floor = results.find((r) => r.floor);
const pad = (s, n) => String(s).padEnd(n);
if (node && fastify && floor) {
  console.log(
    `\n${duration} s per case, ${connections} connections, Node ${process.version}${rounds > 1 ? `, medians of ${rounds} rounds` : ""}\n`,
  );
  console.log(
    `${pad("case", 42)}${pad("req/s", 10)}${pad("p99 ms", 8)}${pad("vs node", 9)}${pad("vs fastify", 12)}${pad("vs +headers", 13)}${pad("cpu µs/req", 12)}${pad("cpu vs fastify", 16)}non-2xx`,
  );
  for (const r of results) {
    console.log(
      `${pad(r.name, 42)}${pad(Math.round(r.rps), 10)}${pad(r.p99, 8)}${pad((r.rps / node.rps).toFixed(2), 9)}${pad((r.rps / fastify.rps).toFixed(2), 12)}${pad((r.rps / floor.rps).toFixed(2), 13)}${pad(r.cpuPerReq.toFixed(1), 12)}${pad((r.cpuPerReq / fastify.cpuPerReq).toFixed(2), 16)}${r.bad}`,
    );
  }
  const byName = (name) => results.find((r) => r.name === name);
  for (const r of results) {
    if (r.target) {
      const base = byName(r.target.of);
      if (!base) continue;
      const ratio = r.rps / base.rps;
      console.log(
        `\n${r.name.trim()}: ${ratio.toFixed(2)} of ${r.target.of.trim()} in req/s (target ≥ ${r.target.ratio}: ${ratio >= r.target.ratio ? "met" : "NOT MET"}), ` +
          `${r.cpuPerReq.toFixed(1)} vs ${base.cpuPerReq.toFixed(1)} cpu µs/req (${(r.cpuPerReq / base.cpuPerReq).toFixed(2)}×)`,
      );
    }
    if (r.against) {
      const base = byName(r.against);
      if (!base) continue;
      console.log(
        `\n${r.name.trim()}: ${(r.rps / base.rps).toFixed(2)} of ${r.against} in req/s (${Math.round(r.rps)} vs ${Math.round(base.rps)}), ` +
          `${r.cpuPerReq.toFixed(1)} vs ${base.cpuPerReq.toFixed(1)} cpu µs/req (${(r.cpuPerReq / base.cpuPerReq).toFixed(2)}×)`,
      );
    }
  }
  console.log(
    "\ncpu µs/req: the server process's user+system CPU over the measured window per request; cpu vs fastify > 1 is costlier." +
      "\nvs +headers: against bare Fastify sending the same security headers, the floor no Bulwark route can beat." +
      "\nRate limits run on every Bulwark case, raised out of reach so that they count but never refuse.",
  );
}
if (failures.size > 0) {
  console.error(
    `\n✗ Not every answer was 2xx in: ${[...failures].join("; ")}.\n  Their figures are not comparable (see above).`,
  );
  process.exitCode = 1;
}
