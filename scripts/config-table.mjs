// Rewrites the configuration table in README.md from src/config/variables.ts (run: npm run docs:config).
// The table is generated so it cannot drift; a test fails if a variable is missing from the README.
import { readFileSync, writeFileSync } from "node:fs";
import { VARIABLES } from "../dist/src/config/variables.js";

const cell = (s) => s.replace(/\|/g, "\\|");
const rows = VARIABLES.map((v) => {
  const def = v.dev === undefined ? "—" : v.dev === "" ? "(empty)" : `\`${v.dev}\``;
  const prod = v.prod !== undefined ? (v.prod === "" ? "default (empty)" : `default \`${v.prod}\``) : "";
  const rule = [prod, v.prodRule ?? "", v.secret ? `secret: also \`${v.name}_FILE\`` : ""]
    .filter(Boolean)
    .join("; ");
  const doc = v.doc + (v.values ? ` One of: ${v.values.map((x) => `\`${x}\``).join(", ")}.` : "");
  return `| \`${v.name}\` | ${def} | ${cell(rule || "—")} | ${cell(doc)} |`;
});
const table = ["| variable | default | production | meaning |", "|---|---|---|---|", ...rows].join("\n");
const readme = readFileSync("README.md", "utf8");
// Tolerates padded cells: formatters align Markdown tables.
const pattern = /\|\s*variable\s*\|[^\n]*\n\|[-:\s|]+\|\n(\|.*\|\n)+/;
if (!pattern.test(readme)) throw new Error("configuration table not found in README.md");
const next = readme.replace(pattern, `${table}\n`);
writeFileSync("README.md", next);
console.log(`README.md: ${rows.length} variables`);
