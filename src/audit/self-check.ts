import { CompactRange } from "./merkle.js";
import { openNote, parseCheckpoint, parseVkey, type Verifier } from "./note.js";
import type { AuditStore } from "./store.js";
import type { AuditCheckpointRow } from "./tables.js";

const unhex = (s: string) => Buffer.from(s, "hex");
const BATCH = 10_000;

/**
 * The live check of AUDIT-4 (POST-3): one log per run, each in turn, so every organisation's log is
 * checked within (logs × interval) and a run costs only the leaves its last checkpoint added. For the
 * log's newest checkpoint signed by a published key (/.well-known/audit-keys.json, so a key rotation is
 * no alarm; rows no key signed are passed over, as the proofs do): the signed size and root match its
 * row, and the leaves since the checkpoint before it, read from the database now, extend that one's
 * stored right edge to exactly this root. The whole log from leaf 0 is `bulwark audit verify`'s job.
 */
export class LogRotation {
  private cursor = "";

  constructor(private readonly store: AuditStore) {}

  /** The next log's problem, if any; undefined when it holds or no log has a checkpoint yet. */
  async next(): Promise<{ log: string; problem: string } | undefined> {
    const heads = await this.store.heads();
    if (heads.length === 0) return undefined;
    const head = heads.find((h) => h.log_id > this.cursor) ?? heads[0]!;
    this.cursor = head.log_id;
    const verifiers = (await this.store.keys()).map((k) => parseVkey(k.vkey));
    const problem = await this.check(head.log_id, verifiers);
    return problem ? { log: head.log_id, problem } : undefined;
  }

  private async check(log: string, verifiers: readonly Verifier[]): Promise<string | undefined> {
    const rows = await this.store.checkpoints(log, 20);
    const signed = rows.filter((r) => signedBy(r, log, verifiers));
    const [latest, previous] = signed;
    if (!latest)
      return rows.length ? "a log's newest checkpoints are not signed by a published key" : undefined;
    let range = new CompactRange();
    if (previous) {
      range = CompactRange.from(previous.size, (JSON.parse(previous.edge) as string[]).map(unhex));
      if (!range.root().equals(unhex(previous.root)))
        return "a checkpoint's stored right edge no longer reproduces its signed root";
    }
    for (let from = range.size; from < latest.size; from += BATCH)
      for (const leaf of await this.store.leaves(log, from, Math.min(latest.size, from + BATCH)))
        range.append(unhex(leaf));
    if (range.size !== latest.size) return "leaves covered by a signed checkpoint are missing";
    if (!range.root().equals(unhex(latest.root)))
      return "an organisation's log no longer reproduces its newest signed checkpoint (run bulwark audit verify)";
    return undefined;
  }
}

/** Whether one of `verifiers` signed this row's checkpoint, for this log, size and root. */
export function signedBy(row: AuditCheckpointRow, log: string, verifiers: readonly Verifier[]): boolean {
  try {
    const c = parseCheckpoint(openNote(row.note, verifiers).text);
    return c.size === row.size && c.root.equals(unhex(row.root)) && c.origin.endsWith(`/audit/${log}`);
  } catch {
    return false;
  }
}
