import type { AuditFilter, AuditStore } from "./store.js";
import type { AuditCheckpointRow, AuditEventRow } from "./tables.js";

const BATCH = 1000;

/** An entry as the API shows it: the stored entry itself, or what is left of it after retention. */
export function itemOf(row: AuditEventRow): Record<string, unknown> {
  if (row.entry !== null) return JSON.parse(row.entry) as Record<string, unknown>;
  return {
    v: 1,
    log: row.log_id,
    seq: row.seq,
    id: row.id,
    time: new Date(row.created_at).toISOString(),
    type: row.type,
    action: row.action,
    purged: true,
  };
}

/** Rows of `log` matching `f`, oldest first, up to `size`, a batch at a time: memory stays constant. */
export async function* walk(
  store: AuditStore,
  log: string,
  size: number,
  f: AuditFilter = {},
): AsyncGenerator<AuditEventRow[]> {
  let from = 0;
  while (from < size) {
    const rows = (await store.range(log, from, BATCH, f)).filter((r) => r.seq < size);
    if (rows.length === 0) return;
    yield rows;
    from = rows[rows.length - 1]!.seq + 1;
  }
}

/** NDJSON (AUDIT-5): one entry per line, exactly the stored canonical JSON, so a SIEM can re-hash it. */
export async function* ndjson(rows: AsyncIterable<AuditEventRow[]>): AsyncGenerator<string> {
  for await (const batch of rows) {
    let out = "";
    for (const r of batch) out += `${r.entry ?? JSON.stringify(itemOf(r))}\n`;
    yield out;
  }
}

/** The CSV columns, in order: the documented, stable schema (docs/audit.md). */
export const CSV_COLUMNS = [
  "id",
  "log",
  "seq",
  "time",
  "type",
  "action",
  "actor_type",
  "actor_id",
  "actor_email",
  "impersonator",
  "org",
  "entity_type",
  "entity_id",
  "method",
  "route",
  "status",
  "duration_ms",
  "ip",
  "user_agent",
  "request_id",
  "before",
  "after",
  "metadata",
] as const;

/**
 * RFC 4180 quoting; a cell that a spreadsheet would run as a formula (=, +, -, @, tab, CR) gets a
 * leading apostrophe (OWASP CSV injection), so opening an export never executes an attacker's text.
 */
function cell(v: unknown): string {
  if (v === null || v === undefined) return "";
  let s = typeof v === "object" ? JSON.stringify(v) : String(v);
  if (/^[=+\-@\t\r]/.test(s) && typeof v === "string") s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export async function* csv(rows: AsyncIterable<AuditEventRow[]>): AsyncGenerator<string> {
  yield `${CSV_COLUMNS.join(",")}\r\n`;
  for await (const batch of rows) {
    let out = "";
    for (const r of batch) {
      const e = itemOf(r) as {
        actor?: { type?: string; id?: string; email?: string };
        entity?: { type?: string; id?: string } | null;
        request?: Record<string, unknown> | null;
        [k: string]: unknown;
      };
      const q = e.request ?? {};
      const values: Record<(typeof CSV_COLUMNS)[number], unknown> = {
        id: r.id,
        log: r.log_id,
        seq: r.seq,
        time: e.time,
        type: r.type,
        action: r.action,
        actor_type: e.actor?.type ?? r.actor_type,
        actor_id: e.actor?.id,
        actor_email: e.actor?.email,
        impersonator: e.impersonator,
        org: e.org,
        entity_type: e.entity?.type,
        entity_id: e.entity?.id,
        method: q.method,
        route: q.route,
        status: q.status,
        duration_ms: q.durationMs,
        ip: q.ip,
        user_agent: q.userAgent,
        request_id: q.requestId,
        before: e.before,
        after: e.after,
        metadata: e.metadata,
      };
      out += `${CSV_COLUMNS.map((c) => cell(values[c])).join(",")}\r\n`;
    }
    yield out;
  }
}

/** The first line of an export bundle: what it holds and the keys that signed it. */
export interface BundleHeader {
  readonly format: "bulwark-audit-bundle";
  readonly version: 1;
  readonly log: string;
  readonly origin: string;
  readonly keys: readonly string[];
  readonly size: number;
  readonly exportedAt: string;
  /** Entries older than this may have lost their content to retention (ISO 8601). */
  readonly retentionCutoff: string;
}

/**
 * An export bundle (AUDIT-4): NDJSON, a header line, one line per signed checkpoint (oldest first), then
 * one line per entry with its leaf hash. Everything `bulwark audit verify --bundle` needs, offline.
 */
export async function* bundle(
  header: BundleHeader,
  checkpoints: readonly AuditCheckpointRow[],
  rows: AsyncIterable<AuditEventRow[]>,
): AsyncGenerator<string> {
  yield `${JSON.stringify(header)}\n`;
  let out = "";
  for (const c of checkpoints) out += `${JSON.stringify({ checkpoint: { size: c.size, note: c.note } })}\n`;
  yield out;
  for await (const batch of rows) {
    out = "";
    for (const r of batch)
      out += `${JSON.stringify({ seq: r.seq, id: r.id, time: r.created_at, leaf: r.leaf, entry: r.entry })}\n`;
    yield out;
  }
}
