import type SQLite from "better-sqlite3";
import type { SqliteDatabase, SqliteStatement } from "kysely";

/**
 * better-sqlite3 for Kysely, with prepared statements reused. Kysely's SQLite driver prepares every
 * statement anew, which cost more than running it (a session-authenticated request spent ~70 µs there).
 * Kysely emits the same SQL text for the same query shape (values are parameters), so a small map keyed
 * by SQL catches nearly every statement. Bounded: past the limit it starts afresh. Safe because Kysely
 * runs one statement at a time on the single connection and reads results eagerly (all/run); a streamed
 * (iterate) statement is never cached.
 */
export function cachingDatabase(db: SQLite.Database, max = 1000): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      let stmt = cache.get(sql);
      if (!stmt) {
        stmt = db.prepare(sql);
        if (cache.size >= max) cache.clear();
        cache.set(sql, stmt);
      }
      const s = stmt;
      return {
        reader: s.reader,
        all: (params) => s.all(params as unknown[]),
        run: (params) => s.run(params as unknown[]),
        // Iteration holds the statement busy; give it a statement of its own.
        iterate: (params) => db.prepare(sql).iterate(params as unknown[]),
      };
    },
  };
}
