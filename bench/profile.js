// Summarises a V8 CPU profile (from BENCH_PROFILE=<dir> npm run bench -- --only …): the functions with the
// most self time, and self time per source file, as shares of the samples taken while the server was
// busy (idle, program and GC lines are shown apart), and the total time (self and callees) of functions
// whose location contains <filter> (e.g. dist/src).
// Usage: node bench/profile.js <file.cpuprofile> [top] [filter]
// V8 samples on a wall clock: when the load generator shares the CPUs, time the server spends preempted
// inside a system call (the response's writev) is charged to it. For CPU time use BENCH_PERF and perf.js.
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

const [file, topArg = "30", filter] = process.argv.slice(2);
if (!file) {
  console.error("usage: node bench/profile.js <file.cpuprofile> [top] [filter]");
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, "utf8"));
const root = fileURLToPath(new URL("..", import.meta.url));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const hits = new Map();
for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);

const where = (cf) => {
  let url = cf.url || "(native)";
  if (url.startsWith("file://")) url = relative(root, fileURLToPath(url));
  return url.replace(/^node_modules\//, "~/");
};
const fn = new Map();
const files = new Map();
let total = 0;
let special = new Map();
for (const [id, count] of hits) {
  const { callFrame: cf } = byId.get(id);
  const name = cf.functionName || "(anonymous)";
  if (name.startsWith("(") && !cf.url) {
    special.set(name, (special.get(name) ?? 0) + count);
    if (name !== "(idle)") total += count;
    continue;
  }
  total += count;
  const key = `${where(cf)}:${cf.lineNumber + 1} ${name}`;
  fn.set(key, (fn.get(key) ?? 0) + count);
  files.set(where(cf), (files.get(where(cf)) ?? 0) + count);
}
// Inclusive time: each sample counts once for every distinct function on its stack.
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const keyOf = (n) =>
  `${where(n.callFrame)}:${n.callFrame.lineNumber + 1} ${n.callFrame.functionName || "(anonymous)"}`;
const inclusive = new Map();
for (const [id, count] of hits) {
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const n = byId.get(at);
    if (!n.callFrame.url) continue;
    const k = keyOf(n);
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + count);
  }
}
special = [...special].sort((a, b) => b[1] - a[1]);
const pct = (n) => `${((100 * n) / total).toFixed(1)}%`.padStart(6);
const top = Number(topArg);
console.log(`${total} busy samples (${special.map(([k, v]) => `${k} ${pct(v)}`).join(", ")})\n`);
console.log("self time by function");
for (const [k, v] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`);
console.log(`\ntotal time (self and callees) of ${filter ? `functions in ${filter}` : "functions"}`);
for (const [k, v] of [...inclusive]
  .filter(([k]) => !filter || k.includes(filter))
  .sort((a, b) => b[1] - a[1])
  .slice(0, top))
  console.log(`${pct(v)}  ${k}`);
console.log("\nself time by file");
for (const [k, v] of [...files].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`);
