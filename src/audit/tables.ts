/**
 * The audit log (AUDIT-1…AUDIT-6). One log per organisation, plus the platform's (`log_id` =
 * "platform"); each log is a Merkle tree whose leaves are its rows in `seq` order. The column is named
 * `log_id`, not `org_id`, on purpose: the log is not tenant data reached through `withOrg` but an
 * append-only record reached only through the audit service, every query naming its log.
 */
export interface AuditEventRow {
  log_id: string;
  /** Leaf index in the log's tree, from 0, assigned under the log's head row lock: no gaps, no forks. */
  seq: number;
  id: string;
  created_at: number;
  type: string;
  action: string;
  actor_type: string;
  /** Query columns copied from the entry; purged with its content (AUDIT-6). */
  actor_id: string | null;
  entity_type: string | null;
  entity_id: string | null;
  /** SHA-256(0x00 ‖ entry), hex: kept for ever, so the tree survives retention. */
  leaf: string;
  /** The canonical entry (see entry.ts); null once retention dropped it. */
  entry: string | null;
}

/**
 * A domain event committed with its change, before it joins its log (within the flush interval): the
 * row it will be, but for its position; `entry` holds seq 0 where its seq will be.
 */
export interface AuditPendingRow extends Omit<AuditEventRow, "seq" | "leaf" | "entry"> {
  pending_id: number;
  entry: string;
}

/** Each log's size: the one row a writer locks (per log, never globally) to take the next seq. */
export interface AuditHeadRow {
  log_id: string;
  size: number;
  updated_at: number;
}

/** A signed checkpoint (C2SP tlog-checkpoint note), with the tree's right edge for extending it. */
export interface AuditCheckpointRow {
  log_id: string;
  size: number;
  root: string;
  key_id: string;
  note: string;
  /** JSON array of hex hashes: the compact range at this size (merkle.ts CompactRange). */
  edge: string;
  created_at: number;
}

/** Every key that ever signed a checkpoint, so old checkpoints stay verifiable after a key change. */
export interface AuditKeyRow {
  key_id: string;
  vkey: string;
  created_at: number;
}

declare module "../db/tables.js" {
  interface Tables {
    audit_events: AuditEventRow;
    audit_heads: AuditHeadRow;
    audit_checkpoints: AuditCheckpointRow;
    audit_keys: AuditKeyRow;
    audit_pending: AuditPendingRow;
  }
}
