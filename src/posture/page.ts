import { createHash } from "node:crypto";
import type { Subprocessor } from "../config/subprocessors.js";
import type { AsvsCoverage } from "./asvs.js";
import { type ClaimEvidence, proofText } from "./evidence.js";
import type { PostureChange } from "./history.js";
import type { CheckOutcome, Control, SettingValue } from "./registry.js";

const AREAS: Record<string, string> = {
  HDR: "Transport and headers",
  CORS: "Cross-origin access",
  AUTH: "Authentication",
  AUTHZ: "Authorisation and tenancy",
  KEY: "API keys",
  RATE: "Rate limits",
  DATA: "Data protection",
  INPUT: "Validation and sanitisation",
  AUDIT: "Audit log",
  HOOK: "Webhooks",
  IDEM: "Idempotency",
  OBS: "Errors and observability",
  OPS: "Operations",
  SUPPLY: "Supply chain",
  GDPR: "Privacy",
  POST: "Security posture",
};
/** The order product security pages use: transport, authentication, authorisation, data, audit, operations, privacy. */
const ORDER = Object.keys(AREAS);

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}
h1{font-size:1.8rem;margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem}
.claim{margin:1rem 0}.id{font:600 .8rem ui-monospace,monospace;background:#eef1f4;border-radius:4px;padding:.1rem .4rem;margin-right:.4rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .8rem;font-size:.9rem;color:#4d5560;margin:.3rem 0 0}
dt{font-family:ui-monospace,monospace}dd{margin:0}footer{margin-top:3rem;font-size:.85rem;color:#4d5560}
.proof,.check,.asvs{font-size:.85rem;margin:.3rem 0 0}.proof a,.holds{color:#1a7f37}.unproven a,.fails{color:#b3261e;font-weight:600}
table{border-collapse:collapse;font-size:.85rem;width:100%}caption{text-align:left;font-weight:600;margin:.5rem 0}
td,th{border-bottom:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}code{word-break:break-all}
.failing{border-left:4px solid #b3261e;padding-left:.6rem}a{color:#0b5cad}
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}h2{border-color:#30363d}.id{background:#21262d}
dl,footer{color:#9da7b3}.proof a,.holds{color:#3fb950}.unproven a,.fails{color:#ff7b72}.failing{border-color:#ff7b72}a{color:#58a6ff}}
@media print{body{max-width:none;margin:0;font-size:11pt}.claim{break-inside:avoid}a{color:inherit}}`;

/** CSP for the page: nothing runs, and the one inline stylesheet is allowed by its hash, not by 'unsafe-inline'. */
export const PAGE_CSP = `default-src 'none'; style-src 'sha256-${createHash("sha256").update(STYLE).digest("base64")}'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`;

const esc = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );

const show = (v: SettingValue): string => (Array.isArray(v) ? v.join(", ") || "(none)" : String(v));

/** The HTML security overview: static, no JavaScript, readable without CSS. */
export function renderSecurityPage(
  claims: readonly Control[],
  meta: {
    product: string;
    generatedAt: string;
    profile: string;
    sbom?: boolean;
    hash?: string;
    keyId?: string;
    /** GDPR-4's list, shown as a table under its claim. */
    subprocessors?: readonly Subprocessor[];
  },
  live: {
    /** Each claim's proof (POST-3), when the build has an evidence manifest. */
    proof?: (id: string) => ClaimEvidence;
    /** Each probed claim's last self-check (POST-3). */
    check?: (c: Control) => CheckOutcome | undefined;
    /** The latest changes of posture, newest first (POST-4). */
    history?: readonly PostureChange[];
    /** Each claim's OWASP ASVS 5.0 requirements, and their level-2 coverage (POST-4). */
    asvs?: { of: (id: string) => readonly string[]; coverage: AsvsCoverage };
  } = {},
): string {
  const { proof, check, history, asvs } = live;
  const byArea = new Map<string, Control[]>();
  for (const c of claims) {
    const area = c.id.split("-")[0] ?? "";
    byArea.set(area, [...(byArea.get(area) ?? []), c]);
  }
  const rank = (area: string) => (ORDER.includes(area) ? ORDER.indexOf(area) : ORDER.length);
  const sections = [...byArea]
    .sort(([a], [b]) => rank(a) - rank(b))
    .map(([area, list]) => {
      const items = list.map((c) => {
        const settings = Object.entries(c.settings ?? {})
          .map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(show(v))}</dd>`)
          .join("");
        const evidence = proof?.(c.id);
        const proven = evidence
          ? `<p class="proof${evidence.tests === 0 || (evidence.failed ?? 0) > 0 ? " unproven" : ""}"><a href="/security/evidence.json">${esc(proofText(evidence))}</a></p>`
          : "";
        const outcome = check?.(c);
        const checked = !outcome
          ? ""
          : outcome.holds
            ? `<p class="check holds">Checked on this server at ${esc(outcome.checkedAt)}: holds.</p>`
            : `<p class="check fails">Checked on this server at ${esc(outcome.checkedAt)}: DOES NOT HOLD. ${esc(outcome.detail ?? "")}</p>`;
        const mapped = asvs?.of(c.id) ?? [];
        const standard = mapped.length ? `<p class="asvs">OWASP ASVS 5.0: ${esc(mapped.join(", "))}</p>` : "";
        return `<div class="claim${outcome?.holds === false ? " failing" : ""}" id="${esc(c.id)}"><strong><span class="id">${esc(c.id)}</span>${esc(c.title)}</strong><p>${esc(c.claim)}</p>${settings ? `<dl>${settings}</dl>` : ""}${c.id === "GDPR-4" ? subprocessorTable(meta.subprocessors ?? []) : ""}${standard}${checked}${proven}</div>`;
      });
      return `<section><h2>${esc(AREAS[area] ?? area)}</h2>${items.join("\n")}</section>`;
    });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(meta.product)} security overview</title><style>${STYLE}</style></head>
<body><header><h1>${esc(meta.product)} security overview</h1>
<p>Profile <strong>${esc(meta.profile)}</strong>, generated ${esc(meta.generatedAt)} from the running configuration: every claim below is a control that is switched on, with the values it runs with. Each names its requirement ID; the machine-readable form is at <a href="/security.json">/security.json</a>.</p>${summary(claims, check)}</header>
${sections.join("\n")}
${asvs ? asvsSection(asvs.coverage) : ""}
${historySection(history, meta)}
<footer>Generated ${esc(meta.generatedAt)} · profile ${esc(meta.profile)} · ${claims.length} controls · <a href="/.well-known/security.txt">security.txt</a> · ${meta.sbom ? '<a href="/security/sbom.json">SBOM</a> · ' : ""}OSCAL <a href="/security/oscal/component-definition.json">component definition</a>, <a href="/security/oscal/assessment-results.json">assessment results</a> · <a href="/">Sign in to the console</a></footer>
</body></html>`;
}

/** The self-checks at a glance: how many claims this server checks on itself, and which do not hold. */
function summary(claims: readonly Control[], check?: (c: Control) => CheckOutcome | undefined): string {
  const outcomes = claims.map((c) => [c, check?.(c)] as const).filter(([, o]) => o !== undefined);
  if (outcomes.length === 0) return "";
  const failing = outcomes.filter(([, o]) => !o!.holds).map(([c]) => c);
  return failing.length === 0
    ? `<p class="check holds">${outcomes.length} claims are checked against this server's behaviour as it runs: all hold.</p>`
    : `<p class="check fails">${outcomes.length} claims are checked against this server's behaviour as it runs: ${failing.length} DO NOT HOLD (${failing.map((c) => `<a href="#${esc(c.id)}">${esc(c.id)}</a>`).join(", ")}).</p>`;
}

/** POST-4: the signed posture's hash, and its changes as the audit log recorded them. */
function historySection(
  history: readonly PostureChange[] | undefined,
  meta: { hash?: string; keyId?: string },
): string {
  if (!meta.hash) return "";
  const signed = `<p>This posture (every claim above with its settings, and the profile) has SHA-256 <code>${esc(meta.hash)}</code>, signed with the audit log's Ed25519 key ${esc(meta.keyId ?? "")}: the signature is in <a href="/security.json">/security.json</a> and the key at <a href="/.well-known/audit-keys.json">/.well-known/audit-keys.json</a>.</p>`;
  const rows = (history ?? []).map(
    (h) =>
      `<tr><td>${esc(h.at)}</td><td><code>${esc(h.hash.slice(0, 12))}</code></td><td>${esc(h.previous === null ? "(first recorded)" : h.changed.join("; "))}</td></tr>`,
  );
  const table = rows.length
    ? `<table><caption>Changes of posture, newest first</caption><thead><tr><th scope="col">Recorded</th><th scope="col">Posture</th><th scope="col">What changed</th></tr></thead><tbody>${rows.join("")}</tbody></table>`
    : "";
  return `<section id="posture"><h2>Signed posture and its history</h2>${signed}${table}</section>`;
}

/** POST-4: how much of OWASP ASVS 5.0 at the level assessed the claims that are on meet, and what not. */
function asvsSection(c: AsvsCoverage): string {
  const rows = c.notCovered.map((r) => `<tr><td>${esc(r.id)}</td><td>${esc(r.text)}</td></tr>`).join("");
  return `<section id="asvs"><h2>OWASP ASVS 5.0 coverage</h2>
<p>At level ${c.level}, ${c.covered.length} of the ${c.applicable} applicable requirements are met by a claim on this page (${c.notApplicable} do not apply to a security core). Each claim names the requirements it meets; the mapping is conservative: a requirement counts only where the claim as stated meets it.</p>
<details><summary>The ${c.notCovered.length} applicable requirements no claim here meets</summary><table><thead><tr><th scope="col">ASVS</th><th scope="col">Requirement</th></tr></thead><tbody>${rows}</tbody></table></details></section>`;
}

/** GDPR-4: the operator's sub-processors, one row each. */
function subprocessorTable(list: readonly Subprocessor[]): string {
  if (list.length === 0) return "";
  const rows = list
    .map(
      (s) =>
        `<tr><td>${s.url ? `<a href="${esc(s.url)}">${esc(s.name)}</a>` : esc(s.name)}</td><td>${esc(s.purpose)}</td><td>${esc(s.location)}</td></tr>`,
    )
    .join("");
  return `<table><caption>Sub-processors</caption><thead><tr><th scope="col">Name</th><th scope="col">Purpose</th><th scope="col">Location</th></tr></thead><tbody>${rows}</tbody></table>`;
}
