import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { Config } from "../config/load.js";
import type { Database } from "../db/database.js";
import type { BundleHeader } from "./export.js";
import { auditOrigin } from "./keys.js";
import { AuditStore } from "./store.js";
import { type VerifyResult, type VerifyRow, type VerifySource, verifyLog } from "./verify.js";

interface Out {
  write(s: string): unknown;
  isTTY?: boolean;
}

/** A progress bar on a terminal, for logs of 10,000 entries or more; nothing when piped. */
function progressBar(out: Out, label: string, total: number): ((n: number) => void) | undefined {
  if (!out.isTTY || total < 10_000) return undefined;
  return (n) => {
    const width = 30;
    const done = Math.min(width, Math.round((n / total) * width));
    out.write(`\r${label} [${"#".repeat(done)}${".".repeat(width - done)}] ${n}/${total}`);
    if (n >= total) out.write("\n");
  };
}

function report(out: Out, r: VerifyResult): void {
  if (r.finding) out.write(`FAIL ${r.log}: ${r.finding.message}\n`);
  else
    out.write(
      `ok   ${r.log}: ${r.entries} entries, ${r.checkpoints} signed checkpoints, verified through ${r.verifiedSize}` +
        (r.verifiedSize < r.entries
          ? ` (${r.entries - r.verifiedSize} newer entries await a checkpoint)`
          : "") +
        "\n",
    );
}

/** `bulwark audit verify [--org ID]`: every log (or one) in the database. Exit code 1 on any finding. */
export async function verifyDatabase(
  db: Database,
  config: Config,
  options: { org?: string | undefined; stdout: Out; stderr: Out },
): Promise<number> {
  const store = new AuditStore(db.global);
  const logs = (await store.logs()).filter((l) => !options.org || l.log_id === options.org);
  if (options.org && logs.length === 0) {
    options.stderr.write(`No audit log for ${options.org}.\n`);
    return 1;
  }
  const vkeys = (await store.keys()).map((k) => k.vkey);
  const cutoff = Date.now() - config.audit.retentionDays * 86_400_000;
  let failed = 0;
  for (const { log_id: log, size } of logs) {
    const src: VerifySource = {
      log,
      origin: auditOrigin(config, log),
      anyHost: true,
      vkeys,
      headSize: size,
      retentionCutoff: cutoff,
      checkpoints: await store.allCheckpoints(log),
      async *rows() {
        // Past the head too, so a row inserted beyond it is seen.
        for (let from = 0; ; ) {
          const batch = await store.range(log, from, 20_000);
          if (batch.length === 0) return;
          yield batch.map(
            (r): VerifyRow => ({
              seq: r.seq,
              id: r.id,
              created_at: r.created_at,
              leaf: r.leaf,
              entry: r.entry,
              columns: {
                action: r.action,
                actor_id: r.actor_id,
                entity_type: r.entity_type,
                entity_id: r.entity_id,
              },
            }),
          );
          from = batch[batch.length - 1]!.seq + 1;
        }
      },
    };
    const result = await verifyLog(src, progressBar(options.stderr, log, size));
    report(options.stdout, result);
    if (result.finding) failed++;
  }
  if (logs.length === 0) options.stdout.write("The audit log is empty.\n");
  return failed > 0 ? 1 : 0;
}

/**
 * `bulwark audit verify --bundle FILE [--key VKEY]`: an organisation's export, offline. The bundle names
 * the keys that signed it; `--key` pins the one the verifier trusts (from /.well-known/audit-keys.json or
 * the security page), so a bundle re-signed with a key of the forger's own is refused.
 */
export async function verifyBundle(
  file: string,
  options: { key?: string | undefined; stdout: Out; stderr: Out },
): Promise<number> {
  const lines = createInterface({
    input: createReadStream(file, "utf8"),
    crlfDelay: Number.POSITIVE_INFINITY,
  })[Symbol.asyncIterator]();
  const first = await lines.next();
  let header: BundleHeader;
  try {
    header = JSON.parse(first.value ?? "") as BundleHeader;
    if (header.format !== "bulwark-audit-bundle" || header.version !== 1) throw new Error();
  } catch {
    options.stderr.write(`${file} is not a Bulwark audit bundle (version 1).\n`);
    return 1;
  }
  const checkpoints: { size: number; note: string }[] = [];
  let pending: string | undefined;
  for (;;) {
    const next = await lines.next();
    if (next.done) break;
    if (!next.value.startsWith('{"checkpoint":')) {
      pending = next.value;
      break;
    }
    const c = (JSON.parse(next.value) as { checkpoint: { size: number; note: string } }).checkpoint;
    checkpoints.push(c);
  }
  let malformed: string | undefined;
  const src: VerifySource = {
    log: header.log,
    origin: header.origin,
    vkeys: options.key ? [options.key] : header.keys,
    retentionCutoff: Date.parse(header.retentionCutoff),
    checkpoints,
    async *rows() {
      let batch: VerifyRow[] = [];
      const take = (line: string): boolean => {
        if (line === "") return true;
        try {
          const r = JSON.parse(line) as {
            seq: number;
            id: string;
            time: number;
            leaf: string;
            entry: string | null;
          };
          if (typeof r.seq !== "number" || typeof r.leaf !== "string") throw new Error();
          batch.push({ seq: r.seq, id: r.id, created_at: r.time, leaf: r.leaf, entry: r.entry });
          return true;
        } catch {
          malformed = line.slice(0, 80);
          return false;
        }
      };
      if (pending !== undefined && !take(pending)) return;
      for (;;) {
        const next = await lines.next();
        if (next.done) break;
        if (!take(next.value)) return;
        if (batch.length >= 10_000) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length) yield batch;
    },
  };
  const result = await verifyLog(src, progressBar(options.stderr, header.log, header.size));
  if (malformed !== undefined) {
    options.stdout.write(`FAIL ${header.log}: a line of the bundle is not an entry: ${malformed}\n`);
    return 1;
  }
  report(options.stdout, result);
  if (!result.finding && result.entries !== header.size) {
    options.stdout.write(
      `FAIL ${header.log}: the bundle holds ${result.entries} entries, its header says ${header.size}\n`,
    );
    return 1;
  }
  if (!options.key && !result.finding)
    options.stdout.write(
      `Signed by ${header.keys.join(", ")}: compare with /.well-known/audit-keys.json, or pass --key to pin it.\n`,
    );
  return result.finding ? 1 : 0;
}
