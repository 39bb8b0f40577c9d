import { buildArtifact } from "./artifact.js";

/** One test naming a requirement, and what CI saw it do (when the manifest carries outcomes). */
interface EvidenceTest {
  readonly file: string;
  readonly title: string;
  readonly state?: "passed" | "failed" | "skipped" | "not run";
}

/** What the page says of one claim's proof. */
export interface ClaimEvidence {
  readonly tests: number;
  /** Outcomes recorded by CI: counts, and the commit they ran at. Absent for a build CI did not record. */
  readonly passed?: number;
  readonly failed?: number;
  readonly commit?: string;
}

/** The manifest scripts/evidence.mjs wrote, as served, and each requirement's summary. */
export interface Evidence {
  readonly text: string;
  of(id: string): ClaimEvidence;
  /** The manifest's size, and the commit CI recorded outcomes at. */
  summary(): { ids: number; tests: number; commit?: string };
}

/**
 * The build's evidence manifest (POST-3): dist/evidence.json beside the compiled server, or the
 * checkout's. Undefined without one: the page then says nothing of proof rather than guess.
 */
export function loadEvidence(): Evidence | undefined {
  const found = buildArtifact("evidence.json");
  const doc = found?.doc as { commit?: string; ids?: Record<string, EvidenceTest[]> } | undefined;
  if (!found || !doc?.ids) return undefined;
  const { commit } = doc;
  const ids = doc.ids;
  return {
    text: found.text,
    summary: () => ({
      ids: Object.keys(ids).length,
      tests: Object.values(ids).reduce((n, t) => n + t.length, 0),
      ...(commit ? { commit } : {}),
    }),
    of(id) {
      const tests = ids[id] ?? [];
      if (!commit) return { tests: tests.length };
      return {
        tests: tests.length,
        passed: tests.filter((t) => t.state === "passed").length,
        failed: tests.filter((t) => t.state === "failed").length,
        commit,
      };
    },
  };
}

/** The claim's proof in words: how many tests name it, and what CI saw them do. */
export function proofText(e: ClaimEvidence): string {
  if (e.tests === 0) return "No test names this requirement: not shown as proven.";
  const tests = `${e.tests} test${e.tests === 1 ? "" : "s"}`;
  if (e.commit === undefined) return `Named by ${tests}; their outcomes were not recorded for this build.`;
  const at = `at commit ${e.commit.slice(0, 12)}`;
  if ((e.failed ?? 0) > 0) return `Proven by ${tests}: ${e.failed} FAILING ${at}.`;
  if (e.passed === e.tests) return `Proven by ${tests}, all passing ${at}.`;
  return `Proven by ${tests}: ${e.passed} passing, ${e.tests - (e.passed ?? 0)} not run ${at}.`;
}
