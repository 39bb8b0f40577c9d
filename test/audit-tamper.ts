import { leafHash } from "../src/audit/merkle.js";

/**
 * What an attacker with the database could do to a log of 10 entries checkpointed at 10, as SQL (run as
 * the owner with the append-only triggers out of the way), and what `bulwark audit verify` must then say
 * (AUDIT-4). Shared by the tests of the verifier's two ways through an SQLite log (one thread, workers).
 */
export const TAMPERINGS: Array<[string, (log: string, entries: string[]) => string, RegExp]> = [
  [
    "an edited entry",
    (log) =>
      `UPDATE audit_events SET entry = replace(entry, 'product.updated', 'product.viewed') WHERE log_id = '${log}' AND seq = 7`,
    /entry 7 \(aud_\w+\) was modified: its content no longer hashes to its leaf/,
  ],
  [
    "an edited entry whose leaf was recomputed",
    (log) => {
      const entry = JSON.stringify({ forged: log });
      return `UPDATE audit_events SET entry = '${entry}', leaf = '${leafHash(entry).toString("hex")}' WHERE log_id = '${log}' AND seq = 7`;
    },
    // The forger made the row self-consistent: the signed checkpoint is what gives it away.
    /entry 7 \(aud_\w+\) was modified: its stored columns disagree|the row at seq 7 holds entry undefined/,
  ],
  [
    "an entry forged whole, its leaf recomputed",
    (log, entries) => {
      const forged = entries[7]!.replace("owner@", "other@");
      return `UPDATE audit_events SET entry = '${forged}', leaf = '${leafHash(forged).toString("hex")}' WHERE log_id = '${log}' AND seq = 7`;
    },
    /the first 10 entries do not match their signed checkpoint: an entry from 0 to 9 was altered together with its leaf/,
  ],
  [
    "an edited query column",
    (log) => `UPDATE audit_events SET action = 'product.viewed' WHERE log_id = '${log}' AND seq = 4`,
    /entry 4 \(aud_\w+\) was modified: its stored columns disagree/,
  ],
  [
    "an edited time column",
    (log) => `UPDATE audit_events SET created_at = created_at + 1 WHERE log_id = '${log}' AND seq = 3`,
    /entry 3 \(aud_\w+\) was modified: its stored columns disagree/,
  ],
  [
    "a deleted entry",
    (log) => `DELETE FROM audit_events WHERE log_id = '${log}' AND seq = 5`,
    /entry 5 is missing/,
  ],
  [
    "the newest entries deleted",
    (log) => `DELETE FROM audit_events WHERE log_id = '${log}' AND seq >= 9`,
    /entries from 9 on are missing/,
  ],
  [
    "two entries swapped",
    (log) =>
      `UPDATE audit_events SET seq = CASE seq WHEN 2 THEN 3 ELSE 2 END + 100 WHERE log_id = '${log}' AND seq IN (2, 3); UPDATE audit_events SET seq = seq - 100 WHERE log_id = '${log}' AND seq >= 100`,
    /the row at seq 2 holds entry 3 .*: rows were inserted, swapped or moved/,
  ],
  [
    "an entry inserted",
    (log) =>
      `UPDATE audit_events SET seq = seq + 1000 WHERE log_id = '${log}' AND seq >= 6; UPDATE audit_events SET seq = seq - 999 WHERE log_id = '${log}' AND seq >= 1000; INSERT INTO audit_events (log_id, seq, id, created_at, type, action, actor_type, leaf, entry) SELECT log_id, 6, 'aud_FORGED_${log}', created_at, type, action, actor_type, leaf, entry FROM audit_events WHERE log_id = '${log}' AND seq = 5`,
    /the row at seq 6 holds entry 5 of log org_\w+: rows were inserted, swapped or moved/,
  ],
  [
    "a row inserted at a position before the first",
    (log) =>
      `INSERT INTO audit_events (log_id, seq, id, created_at, type, action, actor_type, leaf, entry) SELECT log_id, -1, 'aud_NEGATIVE_${log}', created_at, type, 'member.role_changed', actor_type, leaf, entry FROM audit_events WHERE log_id = '${log}' AND seq = 9`,
    /a row of this log \(aud_NEGATIVE_\w+\) holds position -1, which no entry can hold: it was inserted behind the log's back/,
  ],
];

/** Tamperings only SQLite allows (a column of another type than declared). */
export const SQLITE_TAMPERINGS: typeof TAMPERINGS = [
  [
    "a time column made text",
    (log) =>
      `UPDATE audit_events SET created_at = strftime('%Y-%m-%dT%H:%M:%fZ', created_at / 1000.0, 'unixepoch') WHERE log_id = '${log}' AND seq = 6`,
    /entry 6 \(aud_\w+\) was modified: its stored columns disagree/,
  ],
];
