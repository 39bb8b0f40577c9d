// The supply-chain gate of .ci/run (SUPPLY-1), after `npm ci`:
// - a runtime dependency with a known high or critical advisory fails the run, whenever the advisory
//   service answers (`npm audit`); when it does not (no network, a registry mirror without the endpoint)
//   the run says so and goes on, as nothing was checked;
// - a package with an install script that package.json's `allowScripts` neither allows nor denies fails
//   the run (`npm install-scripts ls`): a new install script is reviewed before it ever runs in CI again.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** What `npm audit --json` said: "ok", "vulnerable" (high or critical found), or "unreachable". */
export function auditVerdict(json) {
  let report;
  try {
    report = JSON.parse(json);
  } catch {
    return { status: "unreachable", detail: "npm audit printed no report" };
  }
  const counts = report?.metadata?.vulnerabilities;
  if (!counts) return { status: "unreachable", detail: String(report?.message ?? "no advisory data") };
  const found = Object.entries(report.vulnerabilities ?? {})
    .filter(([, v]) => v.severity === "high" || v.severity === "critical")
    .map(([name, v]) => `${name} (${v.severity})`);
  return found.length
    ? { status: "vulnerable", detail: found.join(", ") }
    : { status: "ok", detail: `${counts.total ?? 0} advisories, none high or critical` };
}

/** The packages `npm install-scripts ls` lists as not covered by allowScripts. */
export function unreviewedScripts(text) {
  if (/No packages with unreviewed install scripts/.test(text)) return [];
  return text
    .split("\n")
    .map((l) => /^\s+(\S+@\S+) \(/.exec(l)?.[1])
    .filter((x) => x !== undefined);
}

function run(args) {
  try {
    return execFileSync("npm", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    // npm audit exits 1 when it finds anything or fails: its JSON says which.
    return String(err.stdout ?? "");
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let failed = false;
  const audit = auditVerdict(run(["audit", "--json", "--omit", "dev"]));
  if (audit.status === "vulnerable") {
    console.error(`supply chain: known high or critical advisories: ${audit.detail}`);
    failed = true;
  } else if (audit.status === "unreachable")
    console.log(
      `supply chain: the advisory service did not answer (${audit.detail}): advisories NOT checked`,
    );
  else console.log(`supply chain: advisories checked: ${audit.detail}`);
  const scripts = unreviewedScripts(run(["install-scripts", "ls"]));
  if (scripts.length) {
    console.error(`supply chain: install scripts not in allowScripts: ${scripts.join(", ")}`);
    failed = true;
  } else console.log("supply chain: every install script is reviewed (allowScripts)");
  process.exit(failed ? 1 : 0);
}
