import type { FastifyRequest } from "fastify";
import type { Database, Db } from "../db/database.js";
import type { Logger } from "../log/logger.js";
import { type DenialFacts, denialEvent } from "./denials.js";
import { type AuditEvent, logOf } from "./entry.js";
import { type ErasedSubject, eraseFromAudit } from "./erasure.js";
import { walk } from "./export.js";
import { CompactRange, consistencySpans, type Hash, inclusionSpans, type Span } from "./merkle.js";
import {
  checkpointText,
  type NoteSigner,
  openNote,
  parseCheckpoint,
  parseVkey,
  type Verifier,
} from "./note.js";
import { LogRotation, signedBy } from "./self-check.js";
import type { AuditFilter, AuditStore } from "./store.js";
import type { AuditCheckpointRow, AuditEventRow } from "./tables.js";
import { erasureText } from "./verify.js";
import { appendRows, StagedMover, stagedRow } from "./writer.js";

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
  private readonly denied = new WeakSet<FastifyRequest>();
  private proofs: Promise<unknown> = Promise.resolve();
  private readonly verifiers: Verifier[];
  private readonly rotation: LogRotation;
  private readonly mover: StagedMover;
  private readonly taps: ((tx: Db, events: readonly AuditEvent[]) => Promise<void>)[] = [];

  constructor(
    private readonly store: AuditStore,
    private readonly db: Db,
    readonly signer: NoteSigner,
    /** The checkpoint origin of a log: `<host>/audit/<log id>`. */
    readonly origin: (log: string) => string,
    readonly settings: AuditSettings,
    private readonly log: Logger,
    private readonly clock: () => number = () => Date.now(),
  ) {
    this.verifiers = [parseVkey(signer.vkey)];
    this.rotation = new LogRotation(store);
    this.mover = new StagedMover(store, db, log, clock);
  }

  /**
   * Records domain events in `tx`, the transaction of their change (AUDIT-2): each is staged there as the
   * row it will be, so it commits or rolls back with the change, and joins its log's tree at the next
   * flush (within FLUSH_MS; `query`, proofs and checkpoints flush first, so a reader never misses one).
   * The change's transaction thus writes one small row and takes no lock of the log's: a busy log never
   * slows the changes it records.
   */
  async record(tx: Db, events: AuditEvent | readonly AuditEvent[]): Promise<void> {
    const list = Array.isArray(events) ? (events as readonly AuditEvent[]) : [events as AuditEvent];
    if (list.length === 0) return;
    for (const tap of this.taps) await tap(tx, list);
    if (!this.settings.enabled) return;
    const now = this.clock();
    await this.store.stage(
      tx,
      list.map((e) => stagedRow(e, now)),
    );
  }

  /**
   * Hands every domain event to `tap` too, in the same transaction (the webhook outbox, HOOK-6): what it
   * writes commits or rolls back with the change, whether or not the audit log is on.
   */
  tap(listener: (tx: Db, events: readonly AuditEvent[]) => Promise<void>): void {
    this.taps.push(listener);
  }

  /** Appends one event in a transaction of its own (an app's event, POST …/audit-events): durable on return. */
  async append(event: AuditEvent): Promise<{ id: string; seq: number }> {
    if (!this.settings.enabled) throw new Error("the audit log is off (AUDIT_LOG=off)");
    const row = stagedRow(event, this.clock());
    const [written] = await this.db
      .transaction()
      .execute((tx) => appendRows(this.store, tx, [row], this.clock()));
    return written!;
  }

  /**
   * GDPR-2: blanks every entry that names an account being erased, after writing what is buffered (an
   * entry still waiting would escape). See `eraseFromAudit`; returns the entries blanked, by log.
   */
  async erase(database: Database, subject: ErasedSubject): Promise<Record<string, number>> {
    await this.flush();
    return eraseFromAudit(database, subject, {
      record: (tx, events) => this.record(tx, events),
      listing: (log, seqs) => this.signer.sign(erasureText(this.origin(log), seqs)),
    });
  }

  /** Entries created before this instant may have lost their content to retention. */
  retentionCutoff(): number {
    return this.clock() - this.settings.retentionDays * 86_400_000;
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

  /**
   * Writes what is buffered, one transaction per log (a log's head row is locked only for its own
   * records, so one busy or slow log never holds another's), at most FLUSH_AT records per transaction.
   * Concurrent calls share one write; records a failed write could not store wait for the next.
   */
  flush(read = false): Promise<void> {
    // A write in flight holds an older batch: wait for it, then write what came since.
    if (this.flushing) return this.flushing.then(() => this.flush(read));
    const batch = this.buffer;
    this.buffer = [];
    // Staged events first (a request's record then follows its events); a move that fails never costs
    // the buffered records their write.
    this.flushing = this.mover
      .move(read)
      .catch((err: Error) =>
        this.log.error({ reason: err.message }, "staged audit events not moved into their logs yet"),
      )
      .then(() => this.writeBatch(batch))
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

  private async writeBatch(batch: AuditEvent[]): Promise<void> {
    if (batch.length === 0) return;
    const byLog = new Map<string, AuditEvent[]>();
    for (const e of batch) {
      const log = logOf(e);
      const group = byLog.get(log);
      if (group) group.push(e);
      else byLog.set(log, [e]);
    }
    const failed: AuditEvent[] = [];
    let reason = "";
    for (const group of byLog.values())
      for (let at = 0; at < group.length; at += FLUSH_AT) {
        const part = group.slice(at, at + FLUSH_AT);
        try {
          const now = this.clock();
          await this.db.transaction().execute((tx) =>
            appendRows(
              this.store,
              tx,
              part.map((e) => stagedRow(e, now)),
              now,
            ),
          );
        } catch (err) {
          failed.push(...part);
          reason = (err as Error).message;
        }
      }
    if (failed.length === 0) return;
    const kept = failed.concat(this.buffer);
    this.dropped += Math.max(0, kept.length - BUFFER_MAX);
    this.buffer = kept.slice(-BUFFER_MAX);
    this.log.error({ reason, waiting: this.buffer.length }, "audit records not written yet");
  }

  /** AUTHZ-6: records a refusal (buffered, like the request record of the refused request). */
  recordDenial(d: DenialFacts, request: FastifyRequest, member: boolean): void {
    this.denied.add(request);
    this.recordSoon(denialEvent(d, request, member));
  }

  /** Whether a refusal of this request was recorded already (by the tenant check). */
  deniedAlready(request: FastifyRequest): boolean {
    return this.denied.has(request);
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
        behind < 0 ||
        p.cp_at === null ||
        now - p.cp_at >= this.settings.checkpointMs
      ) {
        // One log that cannot be checkpointed (tampered with, say) never stops the others'.
        try {
          await this.checkpoint(p.log_id);
          made++;
        } catch (err) {
          this.log.error({ log: p.log_id, reason: (err as Error).message }, "audit checkpoint failed");
        }
      }
    }
    return made;
  }

  /**
   * Signs a checkpoint of `log` at its current size (the latest one when nothing was added since). Only
   * the leaves since the previous checkpoint are read: its stored right edge carries the rest.
   */
  async checkpoint(log: string): Promise<AuditCheckpointRow | undefined> {
    await this.settle();
    const size = await this.store.size(log);
    const prev = await this.trustedLatest(log);
    if (size === 0 || (prev && prev.size >= size)) return prev;
    // The previous checkpoint's right edge is extended only when it reproduces that checkpoint's signed
    // root: an edge (or leaves) rewritten in the database must not be signed over (AUDIT-4).
    let range = prev
      ? CompactRange.from(prev.size, (JSON.parse(prev.edge) as string[]).map(unhex))
      : undefined;
    if (prev && !range!.root().equals(unhex(prev.root))) range = undefined;
    if (!range) {
      range = new CompactRange();
      await this.extend(range, log, prev?.size ?? 0);
      if (prev && !range.root().equals(unhex(prev.root)))
        throw new Error(
          `audit log ${log}: its leaves no longer reproduce the signed checkpoint of size ${prev.size}; not signing over them (run bulwark audit verify)`,
        );
    }
    await this.extend(range, log, size);
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
    const stored = await this.store.checkpoint(log, size);
    if (stored && stored.note !== row.note)
      this.log.error({ log, size }, "a checkpoint row this server did not sign occupies this size; ignored");
    return row;
  }

  /**
   * POST-3's check of AUDIT-4, on the next log in turn (see `checkNextLog`). Undefined when it holds;
   * otherwise what failed, in words fit for the public page (the log is named in the server's log).
   */
  async selfCheck(): Promise<string | undefined> {
    await this.settle();
    const found = await this.rotation.next();
    if (found) this.log.error({ log: found.log }, `audit self-check: ${found.problem}`);
    return found?.problem;
  }

  /** Appends the leaves from `range.size` up to `size`. */
  private async extend(range: CompactRange, log: string, size: number): Promise<void> {
    for (let from = range.size; from < size; from += LEAF_BATCH)
      for (const leaf of await this.store.leaves(log, from, Math.min(size, from + LEAF_BATCH)))
        range.append(unhex(leaf));
  }

  /**
   * The latest checkpoint of `log` this server's key signed, for this log and size, with a root that
   * matches its row: rows the app role could insert (a junk or forged checkpoint) are passed over.
   */
  private async trustedLatest(log: string): Promise<AuditCheckpointRow | undefined> {
    for (const row of await this.store.checkpoints(log, 20)) {
      if (signedBy(row, log, this.verifiers)) return row;
      this.log.warn({ log, size: row.size }, "audit checkpoint not signed by this server's key: skipped");
    }
    return undefined;
  }

  /**
   * The inclusion proof (RFC 9162 2.1.3) of entry `id` in a checkpoint this server signed: the one of
   * `size` when given, else the latest. An entry newer than the latest gets a new checkpoint, at most one
   * a second per log (asking for proofs cannot fill the table with checkpoints).
   */
  async inclusion(log: string, id: string, size?: number) {
    await this.settle();
    const row = await this.store.byId(log, id);
    if (!row) return undefined;
    let cp = size === undefined ? await this.trustedLatest(log) : await this.trusted(log, size);
    if (size === undefined && (!cp || cp.size <= row.seq) && (!cp || this.clock() - cp.created_at >= 1000))
      cp = await this.checkpoint(log);
    if (!cp || cp.size <= row.seq) return { row, checkpoint: undefined, proof: [] as string[] };
    const proof = await this.spanRoots(log, inclusionSpans(row.seq, cp.size));
    return { row, checkpoint: cp, proof };
  }

  /** The consistency proof (RFC 9162 2.1.4) between two checkpoints of `log` this server signed. */
  async consistency(log: string, from: number, to: number) {
    const [a, b] = await Promise.all([this.trusted(log, from), this.trusted(log, to)]);
    if (!a || !b) return undefined;
    return { from: a, to: b, proof: await this.spanRoots(log, consistencySpans(from, to)) };
  }

  /** The checkpoint of `log` at `size`, if this server's key signed it. */
  private async trusted(log: string, size: number): Promise<AuditCheckpointRow | undefined> {
    const row = await this.store.checkpoint(log, size);
    if (!row) return undefined;
    try {
      const c = parseCheckpoint(openNote(row.note, this.verifiers).text);
      return c.size === size && c.root.equals(unhex(row.root)) ? row : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The roots of disjoint leaf spans, in the order given (a proof's hashes), from one pass over the leaves
   * they cover, a batch at a time: memory stays O(log n) whatever the log's size. One proof at a time per
   * process: each reads up to a whole log.
   */
  private spanRoots(log: string, spans: readonly Span[]): Promise<string[]> {
    const run = async (): Promise<string[]> => {
      const order = spans.map((s, i) => ({ s, i })).sort((x, y) => x.s[0] - y.s[0]);
      const out = new Array<string>(spans.length);
      for (const { s, i } of order) {
        const range = new CompactRange();
        for (let from = s[0]; from < s[1]; from += LEAF_BATCH)
          for (const leaf of await this.store.leaves(log, from, Math.min(s[1], from + LEAF_BATCH)))
            range.append(unhex(leaf));
        if (range.size !== s[1] - s[0])
          throw new Error(`audit log ${log}: leaves missing in ${s[0]}..${s[1]}`);
        out[i] = hex(range.root());
      }
      return out;
    };
    const next = this.proofs.then(run, run);
    this.proofs = next.catch(() => []);
    return next;
  }

  checkpoints(log: string, limit: number, before?: number, order: "newest" | "oldest" = "newest") {
    return this.store.checkpoints(log, limit, before, order);
  }

  async query(
    filter: AuditFilter,
    limit: number,
    cursor?: { log: string; seq: number; id: string },
  ): Promise<AuditEventRow[]> {
    await this.settle();
    return this.store.query(filter, limit, cursor);
  }

  async byId(log: string, id: string) {
    await this.settle();
    return this.store.byId(log, id);
  }

  keys() {
    return this.store.keys();
  }

  async size(log: string): Promise<number> {
    await this.settle();
    return this.store.size(log);
  }

  allCheckpoints(log: string) {
    return this.store.allCheckpoints(log);
  }

  /** The rows of `log` below `size` matching `filter`, oldest first, in batches (exports, verification). */
  rows(log: string, size: number, filter: AuditFilter = {}): AsyncGenerator<AuditEventRow[]> {
    return walk(this.store, log, size, filter);
  }

  /**
   * Flushes before a read, so what was recorded before it is in the log it reads (a reader never sees a
   * domain event's change without the event). A failed flush is logged, not the read's failure.
   */
  private async settle(): Promise<void> {
    await this.flush(true).catch((err: Error) =>
      this.log.error({ reason: err.message }, "audit records not written yet"),
    );
  }

  /** Publishes the signing key (kept for ever, so every checkpoint it signed stays verifiable). */
  async publishKey(): Promise<void> {
    await this.store.addKey({ key_id: this.signer.keyId, vkey: this.signer.vkey, created_at: this.clock() });
    this.published = true;
  }
}
