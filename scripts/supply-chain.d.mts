// Types of supply-chain.mjs, for its test (src/posture/sbom.test.ts).
export function auditVerdict(json: string): { status: "ok" | "vulnerable" | "unreachable"; detail: string };
export function unreviewedScripts(text: string): string[];
