import type { FastifyRequest } from "fastify";
import type { Db } from "../db/database.js";
import type { Logger } from "../log/logger.js";
import { newId } from "../util/ids.js";
import { type DenialFacts, denialEvent } from "./denials.js";
import { type AuditEvent, canonical, entryOf, logOf } from "./entry.js";
import { walk } from "./export.js";
import { CompactRange, consistencyProof, type Hash, inclusionProof, leafHash } from "./merkle.js";
import { checkpointText, type NoteSigner } from "./note.js";
import type { AuditFilter, AuditStore } from "./store.js";
import type { AuditCheckpointRow, AuditEventRow } from "./tables.js";

export interface AuditSettings {
  /** AUDIT_LOG: off records nothing (benchmarks only; production refuses it). */
  readonly enabled: boolean;
  /** A checkpoint once a log has this many entries past its last one… */
  readonly checkpointEntries: number;
  /** …or once its oldest uncovered entry has waited this long. */
  readonly checkpointMs: number;
  readonly retentionDays: number;
}

/** How long buffered records may wait before they are written (request records, denials). */
export const FLUSH_MS = 100;
/** Buffered records past this many are written at once rather than waiting for the timer. */
const FLUSH_AT = 500;
/** While the database refuses writes, at most this many records wait; older ones are dropped (and said so). */
const BUFFER_MAX = 50_000;
const LEAF_BATCH = 10_000;

const hex = (h: Hash) => h.toString("hex");
const unhex = (s: string) => Buffer.from(s, "hex");

/**
 * The audit log (AUDIT-1…AUDIT-5): appends entries to per-organisation Merkle trees, signs checkpoints,
 * serves proofs. Two ways in:
 *
 * - `record(tx, events)`: inside the caller's transaction (domain events, AUDIT-2). The entry commits or
 *   rolls back with the change it describes.
 * - `recordSoon(event)`: buffered and written within FLUSH_MS (request records and denials, which
 *   describe a response already sent): one transaction per flush instead of one per request. A crash can
 *   lose at most the last FLUSH_MS of them; a clean shutdown writes them all.
 */
export class AuditService {
  private buffer: AuditEvent[] = [];
  private flushing: Promise<void> | undefined;
  private dropped = 0;
  private published = false;

  constructor(
    private readonly store: AuditStore,
    private readonly db: Db,
    readonly signer: NoteSigner,
    /** The checkpoint origin of a log: `<host>/audit/<log id>`. */
    readonly origin: (log: string) => string,
    readonly settings: AuditSettings,
    private readonly log: Logger,
    private readonly clock: () => number = () => Date.now(),
  ) {}

  /** Appends `events` in `tx`. Logs are locked in a fixed order, so two writers never deadlock. */
  async record(tx: Db, events: AuditEvent | readonly AuditEvent[]): Promise<{ id: string; seq: number }[]> {
    const list = Array.isArray(events) ? (events as readonly AuditEvent[]) : [events as AuditEvent];
    if (list.length === 0 || !this.settings.enabled) return [];
    const written: { id: string; seq: number }[] = [];
    const byLog = new Map<string, AuditEvent[]>();
    for (const e of list) {
      const log = logOf(e);
      const group = byLog.get(log);
      if (group) group.push(e);
      else byLog.set(log, [e]);
    }
    for (const log of [...byLog.keys()].sort()) {
      const group = byLog.get(log)!;
      const now = this.clock();
      written.push(
        ...(await this.store.append(tx, log, group.length, now, (seq, i) =>
          this.row(group[i]!, log, seq, now),
        )),
      );
    }
    return written;
  }

  /** Appends one event in a transaction of its own (an app's event, POST …/audit-events): durable on return. */
  async append(event: AuditEvent): Promise<{ id: string; seq: number }> {
    const [written] = await this.db.transaction().execute((tx) => this.record(tx, event));
    if (!written) throw new Error("the audit log is off (AUDIT_LOG=off)");
    return written;
  }

  /** Entries created before this instant may have lost their content to retention. */
  retentionCutoff(): number {
    return this.clock() - this.settings.retentionDays * 86_400_000;
  }

  private row(e: AuditEvent, log: string, seq: number, now: number) {
    const id = newId("aud", now);
    const entry = canonical(entryOf(e, log, seq, id, now));
    return {
      id,
      created_at: now,
      type: e.request ? "request" : "event",
      action: e.action,
      actor_type: e.actor.type,
      actor_id: e.actor.id,
      entity_type: e.entity?.type ?? null,
      entity_id: e.entity?.id ?? null,
      leaf: hex(leafHash(entry)),
      entry,
    };
  }

  /** Queues `event` for the next flush (request records, denials). */
  recordSoon(event: AuditEvent): void {
    if (!this.settings.enabled) return;
    if (this.buffer.length >= BUFFER_MAX) {
      this.buffer.shift();
      this.dropped++;
    }
    this.buffer.push(event);
    if (this.buffer.length >= FLUSH_AT) void this.flush();
  }

  /** Writes what is buffered; concurrent calls share one write. A failed write keeps the records for the next. */
  flush(): Promise<void> {
    // A write in flight holds an older batch: wait for it, then write what came since.
    if (this.flushing) return this.flushing.then(() => this.flush());
    if (this.buffer.length === 0) return Promise.resolve();
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.db
      .transaction()
      .execute((tx) => this.record(tx, batch))
      .then(() => undefined)
      .catch((err: Error) => {
        this.buffer = batch.concat(this.buffer).slice(-BUFFER_MAX);
        this.log.error({ reason: err.message, waiting: this.buffer.length }, "audit records not written yet");
      })
      .finally(() => {
        this.flushing = undefined;
        if (this.dropped > 0) {
          this.log.error(
            { dropped: this.dropped },
            "audit records dropped: the database refused writes too long",
          );
          this.dropped = 0;
        }
      });
    return this.flushing;
  }

  /** AUTHZ-6: records a refusal (buffered, like the request record of the refused request). */
  recordDenial(d: DenialFacts, request: FastifyRequest, member: boolean): void {
    this.recordSoon(denialEvent(d, request, member));
  }

  /** Records waiting for the next flush. */
  get waiting(): number {
    return this.buffer.length;
  }

  /** Signs a checkpoint of every log whose new entries reached the count or waited long enough. */
  async checkpointDue(): Promise<number> {
    const now = this.clock();
    let made = 0;
    for (const p of await this.store.pending()) {
      const behind = p.size - (p.cp_size ?? 0);
      if (
        behind >= this.settings.checkpointEntries ||
        p.cp_at === null ||
        now - p.cp_at >= this.settings.checkpointMs
      ) {
        await this.checkpoint(p.log_id);
        made++;
      }
    }
    return made;
  }

  /**
   * Signs a checkpoint of `log` at its current size (the latest one when nothing was added since). Only
   * the leaves since the previous checkpoint are read: its stored right edge carries the rest.
   */
  async checkpoint(log: string): Promise<AuditCheckpointRow | undefined> {
    const size = await this.store.size(log);
    const prev = await this.store.latestCheckpoint(log);
    if (size === 0 || (prev && prev.size >= size)) return prev;
    const range = prev
      ? CompactRange.from(prev.size, (JSON.parse(prev.edge) as string[]).map(unhex))
      : new CompactRange();
    for (let from = range.size; from < size; from += LEAF_BATCH) {
      for (const leaf of await this.store.leaves(log, from, Math.min(size, from + LEAF_BATCH)))
        range.append(unhex(leaf));
    }
    if (range.size !== size)
      throw new Error(`audit log ${log}: ${range.size} leaves where the head says ${size}`);
    const root = range.root();
    if (!this.published) await this.publishKey();
    const row: AuditCheckpointRow = {
      log_id: log,
      size,
      root: hex(root),
      key_id: this.signer.keyId,
      note: this.signer.sign(checkpointText(this.origin(log), size, root)),
      edge: JSON.stringify(range.edge().map(hex)),
      created_at: this.clock(),
    };
    await this.store.addCheckpoint(row);
    return (await this.store.checkpoint(log, size)) ?? row;
  }

  private async allLeaves(log: string, size: number): Promise<Hash[]> {
    const out: Hash[] = [];
    for (let from = 0; from < size; from += LEAF_BATCH)
      for (const leaf of await this.store.leaves(log, from, Math.min(size, from + LEAF_BATCH)))
        out.push(unhex(leaf));
    return out;
  }

  /**
   * The inclusion proof (RFC 9162 2.1.3) of entry `id` in a signed checkpoint of its log: the one of
   * `size` when given, else the latest, signing a new one first when the entry is newer than it.
   */
  async inclusion(log: string, id: string, size?: number) {
    const row = await this.store.byId(log, id);
    if (!row) return undefined;
    let cp =
      size === undefined ? await this.store.latestCheckpoint(log) : await this.store.checkpoint(log, size);
    if (size !== undefined && !cp) return { row, checkpoint: undefined, proof: [] as string[] };
    if (!cp || cp.size <= row.seq) cp = await this.checkpoint(log);
    if (!cp || cp.size <= row.seq) return { row, checkpoint: cp, proof: [] as string[] };
    const leaves = await this.allLeaves(log, cp.size);
    return { row, checkpoint: cp, proof: inclusionProof(leaves, row.seq, cp.size).map(hex) };
  }

  /** The consistency proof (RFC 9162 2.1.4) between two signed checkpoints of `log`. */
  async consistency(log: string, from: number, to: number) {
    const [a, b] = await Promise.all([this.store.checkpoint(log, from), this.store.checkpoint(log, to)]);
    if (!a || !b) return undefined;
    const leaves = await this.allLeaves(log, to);
    return { from: a, to: b, proof: consistencyProof(leaves, from, to).map(hex) };
  }

  checkpoints(log: string, limit: number, before?: number, order: "newest" | "oldest" = "newest") {
    return this.store.checkpoints(log, limit, before, order);
  }

  query(
    filter: AuditFilter,
    limit: number,
    cursor?: { log: string; seq: number; at: number },
  ): Promise<AuditEventRow[]> {
    return this.store.query(filter, limit, cursor);
  }

  byId(log: string, id: string) {
    return this.store.byId(log, id);
  }

  keys() {
    return this.store.keys();
  }

  size(log: string): Promise<number> {
    return this.store.size(log);
  }

  allCheckpoints(log: string) {
    return this.store.allCheckpoints(log);
  }

  /** The rows of `log` below `size` matching `filter`, oldest first, in batches (exports, verification). */
  rows(log: string, size: number, filter: AuditFilter = {}): AsyncGenerator<AuditEventRow[]> {
    return walk(this.store, log, size, filter);
  }

  /** Publishes the signing key (kept for ever, so every checkpoint it signed stays verifiable). */
  async publishKey(): Promise<void> {
    await this.store.addKey({ key_id: this.signer.keyId, vkey: this.signer.vkey, created_at: this.clock() });
    this.published = true;
  }
}
