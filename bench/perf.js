// Summarises a `perf record` of a bench server (BENCH_PERF=<dir> npm run bench -- --only …) as CPU
// µs per request: by phase of the request (the innermost frame on each sampled stack that belongs to a
// known part: Bulwark's modules, Kysely, the drivers, Node's HTTP stack), and by the nearest JavaScript
// frame (its own code plus the builtins, native code and kernel time it called).
// Usage: node bench/perf.js <file.perf.data> [top]   (needs `perf`; the server ran with --perf-basic-prof)
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

const [file, topArg = "25"] = process.argv.slice(2);
if (!file) {
  console.error("usage: node bench/perf.js <file.perf.data> [top]");
  process.exit(2);
}
const meta = existsSync(`${file}.json`) ? JSON.parse(readFileSync(`${file}.json`, "utf8")) : {};
const text = execFileSync("perf", ["script", "-i", file], {
  encoding: "utf8",
  maxBuffer: 1 << 30,
  stdio: ["ignore", "pipe", "ignore"],
});

/** The parts of a request, most specific first: a sample goes to the first one found from the leaf up. */
const PHASES = [
  [
    "key verify (shape, sha256, cache, pins)",
    /dist\/src\/apikeys\/|dist\/src\/util\/ids\.js|crypto\/hash|node:zlib/,
  ],
  ["rate limits (counters, decisions, headers)", /dist\/src\/ratelimit\//],
  ["Redis client", /~\/ioredis|~\/@ioredis|~\/redis-/],
  ["pg driver (protocol, pool)", /~\/pg\/|~\/pg-|kysely\/dist\/esm\/dialect\/postgres/],
  ["tenant read: Kysely, tenant scope, SQLite", /~\/kysely\/|dist\/src\/db\/|better_sqlite3|catalog\/store/],
  ["tenant check, handler, view", /dist\/src\/orgs\/|catalog\/products/],
  ["guard pipeline (other)", /dist\/src\/auth\//],
  ["metrics", /dist\/src\/metrics\//],
  ["http layer (headers, request id, https, cors)", /dist\/src\/http\//],
  ["logging", /dist\/src\/log\/|~\/pino/],
  ["response write (socket, kernel)", /clearBuffer|writevGeneric|Socket\._writev|_writeGeneric|doWrite/],
  ["node http: header serialisation", /node:_http_outgoing|writeHead/],
  ["fastify: serialise reply", /~\/fastify\/lib\/reply|fast-json-stringify|JS:\*?anonymous\d* :/],
  ["fastify: routing, hooks, validation", /~\/fastify\/|~\/find-my-way|~\/ajv/],
  ["node http: parse, sockets, streams", /node:_http|node:net|llhttp|node:internal\/streams/],
  ["promises, ticks, event loop", /task_queues|node:internal\/process|RunMicrotasks|uv_run/],
];

const tidy = (s) =>
  s
    .replace(/\+0x[0-9a-f]+$/, "")
    .replaceAll("file:///", "/")
    .replaceAll(`${process.cwd()}/`, "")
    .replaceAll("node_modules/", "~/");
const byPhase = new Map();
const byFrame = new Map();
const add = (m, k, v) => m.set(k, (m.get(k) ?? 0) + v);
let totalUs = 0;
let kernelUs = 0;
for (const block of text.split(/\n\s*\n/)) {
  const lines = block.split("\n").filter(Boolean);
  const head = /\s(\d+)\s+cpu-clock:/.exec(lines[0] ?? "");
  if (!head) continue;
  const us = Number(head[1]) / 1000;
  const frames = [];
  for (const line of lines.slice(1)) {
    const m = /^\s*[0-9a-f]+ (.*) \((.*)\)$/.exec(line);
    if (m) frames.push({ sym: tidy(m[1]), dso: m[2] });
  }
  totalUs += us;
  if (frames[0]?.dso.includes("kernel")) kernelUs += us;
  const phase =
    frames
      .map((f) => PHASES.find(([, rx]) => rx.test(`${f.sym} ${f.dso}`))?.[0])
      .find((p) => p !== undefined) ?? "other (GC, V8 runtime, event loop)";
  add(byPhase, phase, us);
  add(
    byFrame,
    frames.find((f) => f.sym.startsWith("JS:"))?.sym ?? "(no JS frame: runtime, GC, event loop)",
    us,
  );
}
const requests = meta.requests ?? 0;
const per = (us) => (requests ? `${(us / requests).toFixed(1).padStart(6)} µs` : "");
const pct = (us) => `${((100 * us) / totalUs).toFixed(1)}%`.padStart(6);
console.log(
  `${meta.case ?? file}: ${requests ? `${(totalUs / requests).toFixed(1)} µs CPU per request` : `${(totalUs / 1e6).toFixed(2)} s CPU`}, ${pct(kernelUs).trim()} in the kernel`,
);
console.log("\nby phase");
for (const [k, v] of [...byPhase].sort((a, b) => b[1] - a[1])) console.log(`${pct(v)} ${per(v)}  ${k}`);
console.log("\nby nearest JavaScript frame");
for (const [k, v] of [...byFrame].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg)))
  console.log(`${pct(v)} ${per(v)}  ${k}`);
