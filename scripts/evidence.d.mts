// Types of evidence.mjs, for its test (src/posture/evidence.test.ts).
export interface EvidenceTest {
  file: string;
  title: string;
  state?: string;
  runs?: number;
}
export function titlesOf(source: string): string[];
export function idsOf(title: string): string[];
export function manifest(dirs: string[]): Record<string, EvidenceTest[]>;
export function withOutcomes(
  ids: Record<string, EvidenceTest[]>,
  runs: { file: string; name: string; state: string }[],
): Record<string, EvidenceTest[]>;
