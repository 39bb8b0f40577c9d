import type SQLite from "better-sqlite3";
import type { SqliteDatabase, SqliteStatement } from "kysely";

/**
 * better-sqlite3 for Kysely, with prepared statements reused. Kysely's SQLite driver prepares every
 * statement anew, which cost more than running it (a session-authenticated request spent ~70 µs there).
 * Kysely emits the same SQL text for the same query shape (values are parameters), so a small map keyed
 * by SQL catches nearly every statement. Bounded: past the limit it starts afresh. Safe because Kysely
 * runs one statement at a time on the single connection and reads results eagerly (all/run); a streamed
 * (iterate) statement is never cached.
 *
 * Every Statement and Database object is also kept alive for the life of the process. better-sqlite3
 * before 13 wraps them in node::ObjectWrap, and since Node 24.19 finalising one from a garbage collection
 * that runs outside a JavaScript context aborts the process (`Assertion failed: (env) != nullptr` in
 * RemoveEnvironmentCleanupHook): at any moment under load, and at exit. Objects that are never
 * collected are instead released by Node's own environment cleanup. better-sqlite3 13 fixes it but
 * does not run on Node 20, which Bulwark still supports; a server prepares a bounded set of statements,
 * so holding them costs little.
 */
const keepAlive: unknown[] = [];

/** Keeps a better-sqlite3 object alive for the life of the process (see above). */
export function retain<T>(object: T): T {
  keepAlive.push(object);
  return object;
}

export function cachingDatabase(db: SQLite.Database, max = 1000): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  keepAlive.push(db);
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      let stmt = cache.get(sql);
      if (!stmt) {
        stmt = db.prepare(sql);
        keepAlive.push(stmt);
        if (cache.size >= max) cache.clear();
        cache.set(sql, stmt);
      }
      const s = stmt;
      return {
        reader: s.reader,
        all: (params) => s.all(params as unknown[]),
        run: (params) => s.run(params as unknown[]),
        // Iteration holds the statement busy; give it a statement of its own.
        iterate: (params) => {
          const own = db.prepare(sql);
          keepAlive.push(own);
          return own.iterate(params as unknown[]);
        },
      };
    },
  };
}
