import { sql } from "kysely";
import type { Database, Db } from "../db/database.js";
import { idFloor } from "../util/ids.js";
import { SYSTEM } from "./actor.js";
import { type AuditEvent, PLATFORM_LOG } from "./entry.js";
import { throughPurgeGate } from "./retention.js";
import { ERASURE_ACTION } from "./verify.js";

/** The account being erased (GDPR-2), and the pseudonym its entries keep. */
export interface ErasedSubject {
  readonly id: string;
  readonly email: string;
  /** `anon_…`: replaces the account's id in the query columns (actor, entity) of its entries. */
  readonly pseudonym: string;
  /** Whether an entry (written at `createdAt`) names the account, beyond its actor and entity columns. */
  readonly names: (entry: string, createdAt: number) => boolean;
}

/** Rows read per page while looking for the anonymous request records that go with the account. */
const PAGE = 5000;
const BATCH = 500;

interface Candidate {
  id: string;
  created_at: number | string;
  actor_id: string | null;
  entity_id: string | null;
  entry: string;
}

/**
 * GDPR-2: blanks the content of every audit entry that names the account (as actor, as entity, or in its
 * text) and of the request records of the requests those entries were raised in (they hold its network
 * address and browser), in every log. Leaves, positions and ids stay, so every log and checkpoint still
 * verifies; the account's id in the actor and entity columns becomes its pseudonym, so an auditor can
 * still follow what one (now anonymous) account did. Runs as the schema owner with the purge gate set, in
 * the one update shape the append-only triggers admit (migration 0025). Returns the entries blanked, by log.
 */
export async function eraseFromAudit(
  db: Database,
  s: ErasedSubject,
  out: {
    record: (tx: Db, events: AuditEvent[]) => Promise<void>;
    /** The listing of `seqs` in `log`, signed with the log's key (`erasureText`): what verify trusts. */
    listing: (log: string, seqs: readonly number[]) => string;
  },
): Promise<Record<string, number>> {
  return db.asOwner(async (owner) => {
    const contains = (text: string) =>
      db.engine === "postgres"
        ? sql<boolean>`strpos(lower(entry), ${text.toLowerCase()}) > 0`
        : sql<boolean>`instr(lower(entry), ${text.toLowerCase()}) > 0`;
    const found = await sql<Candidate>`SELECT id, created_at, actor_id, entity_id, entry FROM audit_events
      WHERE entry IS NOT NULL AND (actor_id = ${s.id} OR entity_id = ${s.id} OR ${contains(s.id)} OR ${contains(s.email)})`.execute(
      owner,
    );
    const named = found.rows.filter(
      (r) => r.actor_id === s.id || r.entity_id === s.id || s.names(r.entry, Number(r.created_at)),
    );
    // The request records first: they are found through the events' content, which a run that stops
    // half-way must not have blanked already (the next run would no longer find them).
    const records = await anonymousRecords(owner, named);
    const all = [...new Set([...records, ...named.map((r) => r.id)])];
    const byLog: Record<string, number> = {};
    for (let i = 0; i < all.length; i += BATCH) {
      const batch = all.slice(i, i + BATCH);
      const rows = await owner.transaction().execute(async (tx) => {
        // Every entry, whatever its age: the gate's cutoff is the end of time.
        const result = await throughPurgeGate(db, tx, Number.MAX_SAFE_INTEGER, () =>
          sql<{ log_id: string; seq: number | string }>`UPDATE audit_events SET entry = NULL,
            actor_id = CASE WHEN actor_id = ${s.id} THEN ${s.pseudonym} ELSE actor_id END,
            entity_id = CASE WHEN entity_id = ${s.id} THEN ${s.pseudonym} ELSE entity_id END
          WHERE id IN (${sql.join(batch)}) AND entry IS NOT NULL RETURNING log_id, seq`.execute(tx),
        );
        // Each log says, in the same transaction, which of its entries lost their content and why:
        // `bulwark audit verify` accepts exactly those (ERASURE_ACTION).
        const seqs = new Map<string, number[]>();
        for (const r of result.rows) seqs.set(r.log_id, [...(seqs.get(r.log_id) ?? []), Number(r.seq)]);
        await out.record(
          tx,
          [...seqs].map(([log, list]) => {
            const sorted = list.sort((a, b) => a - b);
            return {
              action: ERASURE_ACTION,
              actor: SYSTEM,
              orgId: log === PLATFORM_LOG ? undefined : log,
              entity: { type: "user", id: s.pseudonym },
              metadata: {
                reason: "account erased (GDPR-2)",
                seqs: sorted,
                listing: out.listing(log, sorted),
              },
            };
          }),
        );
        return result.rows;
      });
      for (const r of rows) byLog[r.log_id] = (byLog[r.log_id] ?? 0) + 1;
    }
    return byLog;
  });
}

/**
 * How long after its events a request's record may be written: records are buffered and stamped when
 * written, within a second normally, later through a database outage.
 */
const RECORD_LAG_MS = 86_400_000;

/**
 * The anonymous request records of the requests the account's events were raised in: same request id
 * (server-assigned, or the client's X-Request-Id), same network address, written at or after the event
 * and within RECORD_LAG_MS. Nothing is matched by address alone: a neighbour behind the same NAT, or
 * someone who tried the account's password, keeps the records of their other requests. Read in pages of
 * the id index over that span only (ids are time-ordered).
 */
async function anonymousRecords(db: Db, named: readonly Candidate[]): Promise<string[]> {
  const wanted = new Map<string, { ip: unknown; at: number; taken?: boolean }[]>();
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const r of named) {
    const e = parse(r.entry);
    if (typeof e?.metadata?.requestId !== "string" || e.request) continue;
    const at = Number(r.created_at);
    wanted.set(e.metadata.requestId, [
      ...(wanted.get(e.metadata.requestId) ?? []),
      { ip: e.metadata.ip, at },
    ]);
    first = Math.min(first, at);
    last = Math.max(last, at);
  }
  if (wanted.size === 0) return [];
  const out: string[] = [];
  let after = idFloor("aud", first - 1000);
  const end = idFloor("aud", last + RECORD_LAG_MS);
  for (;;) {
    const page = await sql<{
      id: string;
      created_at: number | string;
      entry: string;
    }>`SELECT id, created_at, entry
      FROM audit_events WHERE id > ${after} AND id < ${end} AND type = 'request' AND actor_id IS NULL
        AND entry IS NOT NULL ORDER BY id LIMIT ${PAGE}`.execute(db);
    for (const r of page.rows) {
      const request = parse(r.entry)?.request;
      // One record per event, the first from its address after it: a client may send the same request
      // id again (X-Request-Id), and its later requests are not the account's.
      const event = (request ? wanted.get(String(request.requestId)) : undefined)?.find(
        (e) => !e.taken && e.ip === request?.ip && Number(r.created_at) >= e.at - 1000,
      );
      if (event) {
        event.taken = true;
        out.push(r.id);
      }
    }
    if (page.rows.length < PAGE) return out;
    after = page.rows[page.rows.length - 1]!.id;
  }
}

type Parsed = {
  metadata?: { requestId?: unknown; ip?: unknown };
  request?: { requestId?: unknown; ip?: unknown };
};

function parse(entry: string): Parsed | undefined {
  try {
    return JSON.parse(entry) as Parsed;
  } catch {
    return undefined;
  }
}
