// npm run bench: each case in its own server process, measured with autocannon from this process, and
// reported as a ratio to bare node:http and bare Fastify measured in the same run (machines are noisy;
// ratios hold). Bounded: every case runs for --duration seconds after a short warm-up.
import { fork } from "node:child_process";
import { parseArgs } from "node:util";
import autocannon from "autocannon";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "8" },
    connections: { type: "string", default: "50" },
    only: { type: "string" },
  },
});
const duration = Number(values.duration);
const connections = Number(values.connections);

const PROXIED = { "x-forwarded-proto": "https", "x-forwarded-for": "198.51.100.7" };

/** The cases; baselines first. Later issues add theirs here. */
const CASES = [
  { name: "node:http", server: "servers/node-http.js", path: "/health/live", baseline: true },
  { name: "fastify (bare)", server: "servers/fastify.js", path: "/health/live", baseline: true },
  {
    name: "fastify + Bulwark's headers",
    server: "servers/fastify-headers.js",
    path: "/health/live",
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
  },
  {
    name: "bulwark GET /v1/orgs/:orgId/products/:id",
    server: "servers/bulwark.js",
    path: "@product",
    headers: PROXIED,
    env: { BENCH_SESSION: "1" },
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
      // BENCH_PROFILE=<dir> writes each server's CPU profile there (open it in Chrome DevTools).
      execArgv: process.env.BENCH_PROFILE
        ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`]
        : [],
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    child.once("message", (m) => resolve({ child, port: m.port, cookie: m.cookie, paths: m.paths ?? {} }));
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code} before it was ready`)));
  });
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

function measure(url, headers, seconds, c = {}) {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        connections,
        duration: seconds,
        headers,
        method: c.method ?? "GET",
        body: c.body,
        ...(c.spreadAddresses ? { requests: [{ setupRequest: fromManyAddresses }] } : {}),
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

const results = [];
for (const c of CASES) {
  if (values.only && !c.baseline && !c.name.includes(values.only)) continue;
  const { child, port, cookie, paths } = await startServer(c.server, c.env);
  try {
    // "@name" paths are created by the server at start (ids of the fixtures it seeded).
    const url = `http://127.0.0.1:${port}${c.path.startsWith("@") ? paths[c.path.slice(1)] : c.path}`;
    const headers = cookie ? { ...c.headers, cookie } : c.headers;
    await measure(url, headers, 2, c); // warm-up: JIT, pools, caches
    const before = await cpuOf(child);
    const r = await measure(url, headers, duration, c);
    const cpu = (await cpuOf(child)) - before;
    const bad = r.non2xx + r.errors + r.timeouts;
    results.push({
      name: c.name,
      rps: r.requests.average,
      p99: r.latency.p99,
      bad,
      cpuPerReq: cpu / r.requests.total,
    });
  } finally {
    child.kill("SIGTERM");
  }
}

const node = results.find((r) => r.name === "node:http");
const fastify = results.find((r) => r.name === "fastify (bare)");
const floor = results.find((r) => r.name.startsWith("fastify + "));
const pad = (s, n) => String(s).padEnd(n);
console.log(`\n${duration} s per case, ${connections} connections, Node ${process.version}\n`);
console.log(
  `${pad("case", 42)}${pad("req/s", 10)}${pad("p99 ms", 8)}${pad("vs node", 9)}${pad("vs fastify", 12)}${pad("vs +headers", 13)}${pad("cpu µs/req", 12)}${pad("cpu vs fastify", 16)}non-2xx`,
);
for (const r of results) {
  console.log(
    `${pad(r.name, 42)}${pad(Math.round(r.rps), 10)}${pad(r.p99, 8)}${pad((r.rps / node.rps).toFixed(2), 9)}${pad((r.rps / fastify.rps).toFixed(2), 12)}${pad((r.rps / floor.rps).toFixed(2), 13)}${pad(r.cpuPerReq.toFixed(1), 12)}${pad((r.cpuPerReq / fastify.cpuPerReq).toFixed(2), 16)}${r.bad}`,
  );
}
console.log(
  "\ncpu µs/req: the server process's user+system CPU over the measured window per request; cpu vs fastify > 1 is costlier." +
    "\nvs +headers: against bare Fastify sending the same security headers, the floor no Bulwark route can beat.",
);
if (results.some((r) => r.bad > 0)) {
  console.error("\nSome responses were not 2xx: the figures above are not comparable.");
  process.exitCode = 1;
}
