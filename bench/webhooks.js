// Webhook delivery throughput (HOOK-3, HOOK-4): N messages delivered signed and recorded by Bulwark's
// dispatcher to a local receiver, as a ratio to a bare loop of undici POSTs (same receiver, same body,
// same concurrency) measured in the same run; then the latency from commit to the first delivery attempt
// while messages are published at a steady rate through the API.
//
//   node bench/webhooks.js [--messages 4000] [--rounds 3] [--rate 200] [--seconds 5] [--target 0.5]
//
// Run by bench/run.js (--only webhooks) in its own process; prints one JSON line prefixed "RESULT ".
// Imports from dist/ (npm run build first; npm run bench does). The receiver runs in a worker thread, so
// it does not share the event loop of the side being measured.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { Agent, request } from "undici";
import { buildApp, bulwarkMigrations } from "../dist/src/app.js";
import { loadConfig } from "../dist/src/config/load.js";
import { Database } from "../dist/src/db/database.js";
import { PasswordHasher } from "../dist/src/identity/password.js";
import { IdentityStore } from "../dist/src/identity/store.js";
import { createLogger } from "../dist/src/log/logger.js";
import { newId } from "../dist/src/util/ids.js";

const { values } = parseArgs({
  options: {
    messages: { type: "string", default: "4000" },
    rate: { type: "string", default: "200" },
    seconds: { type: "string", default: "5" },
    target: { type: "string", default: "0.5" },
    rounds: { type: "string", default: "3" },
  },
});
const N = Number(values.messages);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = 32;

// The receiver: answers 204 and counts, in a thread of its own; reports arrival times on request.
const receiver = new Worker(
  `const { createServer } = require("node:http");
   const { parentPort } = require("node:worker_threads");
   let count = 0; const arrivals = [];
   const server = createServer((req, res) => {
     let body = ""; req.on("data", (c) => (body += c));
     req.on("end", () => {
       count++;
       const at = Date.now();
       const t = /"timestamp":"([^"]+)"/.exec(body);
       if (t) arrivals.push(at - Date.parse(t[1]));
       res.writeHead(204); res.end();
     });
   });
   server.keepAliveTimeout = 10000;
   server.listen(0, "127.0.0.1", () => parentPort.postMessage({ port: server.address().port }));
   parentPort.on("message", (m) => {
     if (m === "count") parentPort.postMessage({ count });
     if (m === "arrivals") { parentPort.postMessage({ arrivals: arrivals.splice(0) }); }
   });`,
  { eval: true },
);
const ask = (what) =>
  new Promise((resolve) => {
    receiver.once("message", resolve);
    receiver.postMessage(what);
  });
const { port } = await new Promise((resolve) => receiver.once("message", resolve));
const url = `http://127.0.0.1:${port}/hook`;

// Bare: undici POSTs of a body of the same size, CONCURRENCY at a time.
const body = JSON.stringify({
  type: "bench.made",
  timestamp: new Date().toISOString(),
  data: { n: 1, pad: "x".repeat(200) },
});
/** The bare side: N undici POSTs, CONCURRENCY at a time, on a pool of its own; returns seconds. */
async function bareRound() {
  const agent = new Agent({ connections: CONCURRENCY });
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) {
        next++;
        const res = await request(url, {
          method: "POST",
          body,
          headers: { "content-type": "application/json" },
          dispatcher: agent,
        });
        await res.body.dump();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await agent.close();
  return seconds;
}

// Bulwark: N messages in the outbox, then the dispatcher delivers them all.
const dir = mkdtempSync(join(tmpdir(), "bulwark-bench-hooks-"));
const config = loadConfig({
  NODE_ENV: "test",
  LOG_LEVEL: "silent",
  BULWARK_DATA_DIR: dir,
  BULWARK_SECRET: "bench-webhooks-secret-0123456789abcdef",
  BULWARK_WEBHOOK_ALLOWLIST: "127.0.0.1",
  WEBHOOK_WORKER: "off",
  // One endpoint, sent to with the bare loop's concurrency: the same number of requests in flight.
  WEBHOOK_CONCURRENCY: String(CONCURRENCY),
  WEBHOOK_ENDPOINT_CONCURRENCY: String(CONCURRENCY),
  AUDIT_LOG: "off",
  RATE_LIMIT_KEY_PER_MINUTE: "100000000",
  RATE_LIMIT_IP_PER_MINUTE: "100000000",
  RATE_LIMIT_ORG_PER_MINUTE: "100000000",
  RATE_LIMIT_TIERS: "general=100000000/1m,sensitive=100000000/1m,admin=100000000/1m,export=100000000/1m",
});
const log = createLogger({ level: "silent" });
const db = Database.open(config, log);
await db.migrate({ extra: bulwarkMigrations() });
await db.refreshTenantTables();
const app = await buildApp(config, { db, logger: log });
await app.ready();
const now = Date.now();
const userId = newId("usr", now);
await new IdentityStore(db.global).createUser({
  id: userId,
  email: "bench@example.org",
  email_verified_at: now,
  password_hash: await new PasswordHasher(config.auth.argon2).hash("bench webhooks passphrase"),
  created_at: now,
  updated_at: now,
});
const login = await app.inject({
  method: "POST",
  url: "/v1/auth/login",
  payload: { email: "bench@example.org", password: "bench webhooks passphrase" },
});
const owner = {
  cookie: String(login.headers["set-cookie"]).split(";")[0],
  "x-csrf-token": login.json().csrfToken,
};
const org = (
  await app.inject({ method: "POST", url: "/v1/orgs", headers: owner, payload: { name: "Bench" } })
).json().org.id;
await app.inject({
  method: "POST",
  url: `/v1/orgs/${org}/webhook-endpoints`,
  headers: owner,
  payload: { url },
});
const key = (
  await app.inject({
    method: "POST",
    url: `/v1/orgs/${org}/api-keys`,
    headers: owner,
    payload: { name: "bench", scopes: ["webhooks:write"] },
  })
).json().key;
const hooks = app.bulwark.service("webhooks");
const dispatcher = app.bulwark.service("webhookDispatcher");
/**
 * The Bulwark side: N messages put in the outbox, then the time until the receiver has them all, the
 * dispatcher running as in a server (fan-out included). Returns seconds and CPU ms per delivery.
 */
async function bulwarkRound(round) {
  for (let i = 0; i < N; i += 500)
    await db.withOrg(org, (tx) =>
      hooks.enqueue(
        tx,
        org,
        Array.from({ length: Math.min(500, N - i) }, (_, k) => ({
          type: "bench.made",
          data: { round, n: i + k, pad: "x".repeat(200) },
        })),
      ),
    );
  const before = (await ask("count")).count;
  const cpu = process.cpuUsage();
  const started = performance.now();
  if (round === 0) dispatcher.start();
  else dispatcher.wake();
  let delivered = 0;
  while (delivered < N) {
    await new Promise((r) => setTimeout(r, 5));
    delivered = (await ask("count")).count - before;
    if (performance.now() - started > 600_000)
      throw new Error(`only ${delivered} of ${N} delivered in 10 minutes`);
  }
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  await dispatcher.drain(60_000);
  return { seconds, cpuMs: (used.user + used.system) / 1000 / delivered };
}

// Rounds alternate the two sides, so a noisy moment of the machine weighs on both; the median counts.
// A first round of each side warms both up (the JIT, the pools, the database's pages) and is not counted.
const rounds = [];
for (let r = 0; r <= ROUNDS; r++) {
  const bareSeconds = await bareRound();
  const b = await bulwarkRound(r);
  if (r > 0)
    rounds.push({
      ratio: bareSeconds / b.seconds,
      bare: N / bareSeconds,
      bulwark: N / b.seconds,
      cpuMs: b.cpuMs,
    });
}
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
await ask("arrivals");

// Latency: messages published through the API at a steady rate; the dispatcher running as in a server.
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const sent = [];
const end = performance.now() + seconds * 1000;
let k = 0;
while (performance.now() < end) {
  const due = performance.now() + 1000 / rate;
  sent.push(
    app.inject({
      method: "POST",
      url: `/v1/orgs/${org}/webhook-messages`,
      headers: { "x-api-key": key },
      payload: { type: "bench.made", data: { n: k++ } },
    }),
  );
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
await Promise.all(sent);
await dispatcher.drain(120_000);
const { arrivals } = await ask("arrivals");
arrivals.sort((a, b) => a - b);
const pct = (p) => arrivals[Math.min(arrivals.length - 1, Math.floor((p / 100) * arrivals.length))];

await app.close();
await db.close();
await receiver.terminate();
rmSync(dir, { recursive: true, force: true });

const ratio = median(rounds.map((r) => r.ratio));
const result = {
  messages: N,
  rounds: ROUNDS,
  barePerSecond: median(rounds.map((r) => r.bare)),
  bulwarkPerSecond: median(rounds.map((r) => r.bulwark)),
  ratio,
  ratios: rounds.map((r) => Number(r.ratio.toFixed(3))),
  target: Number(values.target),
  met: ratio >= Number(values.target),
  cpuMsPerDelivery: median(rounds.map((r) => r.cpuMs)),
  latency: { published: k, received: arrivals.length, p50: pct(50), p99: pct(99), max: arrivals.at(-1) },
};
console.log(`RESULT ${JSON.stringify(result)}`);
