import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { Config } from "../config/load.js";
import type { Database } from "../db/database.js";
import type { BundleHeader } from "./export.js";
import { auditOrigin, auditSigner } from "./keys.js";
import { leafHash } from "./merkle.js";
import { parseVkey, type Verifier } from "./note.js";
import { AuditStore } from "./store.js";
import {
  type CheckedBatch,
  ERASURE_ACTION,
  erasedListed,
  type VerifyResult,
  type VerifyRow,
  type VerifySource,
  verifyLog,
} from "./verify.js";
import { CHUNK, checkedInParallel } from "./verify-pool.js";
import { checkChunk, chunkAt } from "./verify-sqlite.js";

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

/** Logs this long or longer are checked on worker threads (below, starting them costs more than it saves). */
const PARALLEL_FROM = 50_000;

/**
 * An SQLite log's rows, checked chunk by chunk (verify-sqlite.ts): on worker threads for a long log in a
 * file, else on this thread. Undefined on PostgreSQL, which reads through the store.
 */
function sqliteChunks(
  db: Database,
  log: string,
  size: number,
  retentionCutoff: number,
  parallel: ParallelOptions,
  erased: ReadonlySet<number>,
  sizes: readonly number[],
): AsyncIterable<CheckedBatch> | undefined {
  const select = (text: string, params: readonly unknown[]) => db.selectRows(text, params)!;
  const max = db.selectRows("SELECT max(seq) FROM audit_events WHERE log_id = ?", [log])?.[0]?.[0];
  if (max === undefined) return undefined;
  // Past the head too, so a row inserted beyond it is seen.
  const end = Math.max(size, typeof max === "number" ? max + 1 : 0);
  const file = db.sqliteFile;
  const chunk = parallel.chunk ?? CHUNK;
  const chunks =
    file && end >= (parallel.from ?? PARALLEL_FROM)
      ? checkedInParallel(file, log, end, retentionCutoff, parallel, erased, sizes)
      : (async function* () {
          const erasedList = [...erased].sort((a, b) => a - b);
          for (let from = 0; from < end; from += chunk)
            yield checkChunk(select, chunkAt(log, from, chunk, end, retentionCutoff, erasedList, sizes));
        })();
  return (async function* () {
    for await (const batch of chunks) {
      yield batch;
      if (batch.finding) return;
    }
    yield* strays(new AuditStore(db.global, db.engine), log, end);
  })();
}

/** A last batch naming a row the walk by position never met (store.ts `strayRow`), if there is one. */
async function* strays(store: AuditStore, log: string, end: number): AsyncGenerator<CheckedBatch> {
  const stray = await store.strayRow(log);
  if (stray)
    yield {
      first: end,
      count: 0,
      edges: [],
      createdAt: new Float64Array(0),
      finding: {
        at: 0,
        finding: {
          problem: "inserted",
          seq: null,
          id: stray.id,
          message: `a row of this log (${stray.id}) holds position ${String(stray.seq)}, which no entry can hold: it was inserted behind the log's back`,
        },
      },
    };
}

/** When verification goes to worker threads: from this many entries (tests lower it), in chunks of `chunk`. */
export interface ParallelOptions {
  readonly from?: number;
  readonly chunk?: number;
  readonly workers?: number;
}

/** `bulwark audit verify [--org ID]`: every log (or one) in the database. Exit code 1 on any finding. */
export async function verifyDatabase(
  db: Database,
  config: Config,
  options: {
    org?: string | undefined;
    keys?: readonly string[];
    stdout: Out;
    stderr: Out;
    parallel?: ParallelOptions;
  },
): Promise<number> {
  const store = new AuditStore(db.global, db.engine);
  // Trust comes from outside the database checked: this configuration's key and any --key given. Keys
  // the database lists beside them (a signing key since changed, or one slipped in) are named, not trusted.
  const vkeys = [auditSigner(config).vkey, ...(options.keys ?? [])];
  for (const k of await store.keys())
    if (!vkeys.includes(k.vkey))
      options.stderr.write(`note: the database lists key ${k.vkey}; pass it with --key if you trust it\n`);
  const logs = (await store.logs()).filter((l) => !options.org || l.log_id === options.org);
  if (options.org && logs.length === 0) {
    options.stderr.write(`No audit log for ${options.org}.\n`);
    return 1;
  }
  const now = Date.now();
  const cutoff = now - config.audit.retentionDays * 86_400_000;
  const trusted = verifiersOf(vkeys);
  // Checkpoints come every AUDIT_CHECKPOINT_SECONDS on a running server: allow that twice, and 5 minutes.
  const coveredBefore = now - 2 * config.audit.checkpointSeconds * 1000 - 300_000;
  let failed = 0;
  for (const { log_id: log, size } of logs) {
    const erased = new Set<number>();
    for (const r of await store.byAction(log, ERASURE_ACTION))
      for (const seq of erasedListed(r.seq, r.entry, log, trusted)) erased.add(seq);
    const src: VerifySource = {
      log,
      origin: auditOrigin(config, log),
      anyHost: true,
      vkeys,
      headSize: size,
      retentionCutoff: cutoff,
      erased,
      coveredBefore,
      checkpoints: await store.allCheckpoints(log),
      rows: (sizes) =>
        sqliteChunks(db, log, size, cutoff, options.parallel ?? {}, erased, sizes) ??
        (async function* () {
          // Past the head too, so a row inserted beyond it is seen.
          let from = 0;
          for (;;) {
            const batch = await store.verifyRange(log, from, 5000);
            if (batch.length === 0) break;
            yield batch;
            from = batch[batch.length - 1]!.seq + 1;
          }
          yield* strays(store, log, Math.max(from, size));
        })(),
    };
    const result = await verifyLog(src, progressBar(options.stderr, log, size));
    report(options.stdout, result);
    // Never silent: an erasure record is what lets an entry lose its content early, so each is shown.
    if (erased.size)
      options.stdout.write(
        `     ${erased.size} entries of ${log} were erased with their account (GDPR-2), as its ${ERASURE_ACTION} records list\n`,
      );
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
  if (!options.key) {
    options.stderr.write(
      "Pin the key the log is signed with: --key VKEY (from /.well-known/audit-keys.json or the security page). A bundle's own keys prove nothing: whoever forged it would list theirs.\n",
    );
    return 2;
  }
  const lines = createInterface({
    input: createReadStream(file, "utf8"),
    crlfDelay: Number.POSITIVE_INFINITY,
  })[Symbol.asyncIterator]();
  const fail = (message: string): number => {
    options.stdout.write(`FAIL ${file}: ${message}\n`);
    return 1;
  };
  let header: BundleHeader;
  try {
    header = JSON.parse((await lines.next()).value ?? "") as BundleHeader;
    if (header.format !== "bulwark-audit-bundle" || header.version !== 1 || typeof header.log !== "string")
      throw new Error();
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
    const c = parseLine(next.value, (v) => {
      const cp = (v as { checkpoint?: { size?: unknown; note?: unknown } }).checkpoint;
      return cp && Number.isSafeInteger(cp.size) && typeof cp.note === "string"
        ? { size: cp.size as number, note: cp.note }
        : undefined;
    });
    if (!c) return fail(`a checkpoint line is malformed: ${next.value.slice(0, 80)}`);
    checkpoints.push(c);
  }
  let malformed: string | undefined;
  let purged = 0;
  const cutoff = Date.parse(String(header.retentionCutoff));
  const src: VerifySource = {
    log: header.log,
    origin: String(header.origin),
    vkeys: [options.key],
    retentionCutoff: Number.isNaN(cutoff) ? Number.NEGATIVE_INFINITY : cutoff,
    erased: await erasedInBundle(file, header.log, verifiersOf([options.key])),
    // Every entry of a bundle is covered: the server checkpoints the whole log before exporting it.
    coveredBefore: Number.POSITIVE_INFINITY,
    checkpoints,
    async *rows() {
      let batch: VerifyRow[] = [];
      const take = (line: string): boolean => {
        if (line === "") return true;
        const row = parseLine(line, (v) => {
          const r = v as { seq?: unknown; id?: unknown; time?: unknown; leaf?: unknown; entry?: unknown };
          return Number.isSafeInteger(r.seq) &&
            typeof r.id === "string" &&
            Number.isSafeInteger(r.time) &&
            typeof r.leaf === "string" &&
            (typeof r.entry === "string" || r.entry === null)
            ? { seq: r.seq as number, id: r.id, created_at: r.time as number, leaf: r.leaf, entry: r.entry }
            : undefined;
        });
        if (!row) {
          malformed = line.slice(0, 80);
          return false;
        }
        if (row.entry === null) purged++;
        batch.push(row);
        return true;
      };
      if (pending !== undefined && !take(pending)) return;
      for (;;) {
        const next = await lines.next();
        if (next.done) break;
        if (!take(next.value)) return;
        if (batch.length >= 5000) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length) yield batch;
    },
  };
  const result = await verifyLog(src, progressBar(options.stderr, header.log, Number(header.size) || 0));
  if (malformed !== undefined) return fail(`a line of the bundle is not an entry: ${malformed}`);
  report(options.stdout, result);
  if (result.finding) return 1;
  if (result.entries !== header.size)
    return fail(`the bundle holds ${result.entries} entries, its header says ${String(header.size)}`);
  if (purged > 0)
    options.stdout.write(
      `${purged} entries carry no content (dropped by retention before ${header.retentionCutoff}, or erased with their account); their leaves verify.\n`,
    );
  return 0;
}

/** One JSON line through `shape`, or undefined when it is not JSON or not of that shape. */
function parseLine<T>(line: string, shape: (v: unknown) => T | undefined): T | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return v && typeof v === "object" ? shape(v) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The positions a bundle's erasure records list (GDPR-2): read in a first pass over the file, since a
 * record follows the entries it blanked.
 */
async function erasedInBundle(file: string, log: string, trusted: readonly Verifier[]): Promise<Set<number>> {
  const erased = new Set<number>();
  const lines = createInterface({
    input: createReadStream(file, "utf8"),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let header = true;
  for await (const line of lines) {
    // Entry lines only: not the header, not a checkpoint; and only an entry that is its own leaf's
    // content (the verifying pass then proves that leaf is in the signed tree at that position).
    if (header || !line.includes(ERASURE_ACTION) || line.startsWith('{"checkpoint":')) {
      header = false;
      continue;
    }
    try {
      const r = JSON.parse(line) as { seq?: unknown; entry?: unknown; leaf?: unknown };
      if (
        Number.isSafeInteger(r.seq) &&
        typeof r.entry === "string" &&
        leafHash(r.entry).toString("hex") === r.leaf
      )
        for (const seq of erasedListed(r.seq as number, r.entry, log, trusted)) erased.add(seq);
    } catch {
      // Not an entry line: the verifying pass reports it.
    }
  }
  return erased;
}

/** The verifiers of the keys given; one that does not parse is left out (verifyLog reports it). */
function verifiersOf(vkeys: readonly string[]): Verifier[] {
  const out: Verifier[] = [];
  for (const k of vkeys)
    try {
      out.push(parseVkey(k));
    } catch {
      // Reported by the checkpoint check.
    }
  return out;
}
