// The evidence manifest (POST-3): which tests prove which requirement. Tests name the IDs they prove at the
// start of their titles (`it("AUTH-4, AUTH-7: …")`); this reads every test file's titles (without running
// them) and writes dist/evidence.json: ID → [{ file, title }]. `npm run build` writes it so; .ci/run
// calls it again with --results DIR --commit SHA once the suites ran, and each test then carries its
// outcome in CI (every run of it: SQLite, PostgreSQL, browsers), with the commit they ran at. The server
// reads the file and the security page says, per claim, how many tests prove it and whether they passed.
//
//   node scripts/evidence.mjs [--results test-results/evidence --commit SHA]

import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = fileURLToPath(new URL("..", import.meta.url));
const ID = /\b[A-Z]{2,6}-\d{1,2}\b/g;

/** The test titles of one source file: `it(`, `it.<modifier>(…)(`, `test(`, with a literal title. */
export function titlesOf(source) {
  const out = [];
  const call = /\b(?:it|test)(?:\.\w+(?:\([^()]*\))?)?\(\s*(["'`])((?:\\.|(?!\1)[\s\S])*?)\1/g;
  for (const m of source.matchAll(call)) out.push(m[2].replace(/\\(["'`\\])/g, "$1"));
  return out;
}

/** The requirement IDs a title names: those before its first ": " (the title's subject). */
export function idsOf(title) {
  const head = title.split(": ")[0];
  return head === title ? [] : [...new Set(head.match(ID) ?? [])];
}

/** A title with template parts (`${…}`) as a pattern, to match the names the runs report. */
const pattern = (title) =>
  new RegExp(
    `^${title
      .split(/\$\{[^}]*\}/)
      .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  );

/** ID → tests, from the test files under `dirs`. */
export function manifest(dirs) {
  const ids = {};
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (name === "node_modules" || name.startsWith(".")) continue;
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(".test.ts"))
        for (const title of titlesOf(readFileSync(path, "utf8")))
          for (const id of idsOf(title)) {
            ids[id] ??= [];
            ids[id].push({ file: relative(root, path), title });
          }
    }
  };
  for (const d of dirs) if (existsSync(d)) walk(d);
  return ids;
}

/**
 * Each test's outcome from the runs' reports (test/evidence-reporter.ts): `failed` when any run failed,
 * `passed` when one passed at least and none failed, `not run` when no run reported it.
 */
export function withOutcomes(ids, runs) {
  const out = {};
  for (const [id, tests] of Object.entries(ids))
    out[id] = tests.map((t) => {
      const re = pattern(t.title);
      const seen = runs.filter((r) => r.file === t.file && re.test(r.name));
      // Failed in any run: failed. Passed in one at least (skipped where its service was absent): passed.
      const state = seen.some((r) => r.state === "failed")
        ? "failed"
        : seen.some((r) => r.state === "passed")
          ? "passed"
          : seen.length === 0
            ? "not run"
            : "skipped";
      return { ...t, state, runs: seen.length };
    });
  return out;
}

/** The checkout's commit, or undefined outside a git checkout. */
function headCommit() {
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return undefined;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { results: { type: "string" }, commit: { type: "string" } } });
  let ids = manifest(["src", "test", "examples"].map((d) => join(root, d)));
  let commit;
  // In CI (BULWARK_EVIDENCE_DIR) a build after the suites ran, `npm start`'s included, keeps their outcomes.
  const results = values.results ?? process.env.BULWARK_EVIDENCE_DIR;
  const files = results && existsSync(results) ? readdirSync(results).filter((f) => f.endsWith(".json")) : [];
  // Outcomes are only worth their commit: outside a git checkout (a copy, a packed tarball) none is known,
  // and the manifest then lists the tests without claiming what they did.
  commit = values.commit ?? headCommit();
  if (files.length > 0 && commit) {
    const runs = files.flatMap((f) => JSON.parse(readFileSync(join(results, f), "utf8")));
    ids = withOutcomes(ids, runs);
  } else commit = undefined;
  mkdirSync(join(root, "dist"), { recursive: true });
  const doc = { generatedAt: new Date().toISOString(), ...(commit ? { commit } : {}), ids };
  // Written aside, then renamed: a server or test reading it never sees half a file.
  writeFileSync(join(root, "dist/evidence.json.tmp"), `${JSON.stringify(doc, null, 1)}\n`);
  renameSync(join(root, "dist/evidence.json.tmp"), join(root, "dist/evidence.json"));
  const tests = Object.values(ids).reduce((n, t) => n + t.length, 0);
  // On stderr: the build runs inside `npm pack --json`, whose standard output is the tarball's JSON.
  console.error(
    `evidence: ${Object.keys(ids).length} requirements, ${tests} test titles${commit ? ` with outcomes at ${commit.slice(0, 12)}` : ""}`,
  );
}
