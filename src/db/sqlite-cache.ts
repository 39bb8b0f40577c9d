import type SQLite from "better-sqlite3";
import type { SqliteDatabase, SqliteStatement } from "kysely";

/**
 * better-sqlite3 for Kysely, with prepared statements reused. Kysely's SQLite driver prepares every
 * statement anew, which cost more than running it (a session-authenticated request spent ~70 µs there).
 * Kysely emits the same SQL text for the same query shape (values are parameters), so a small map keyed
 * by SQL catches nearly every statement. Safe because Kysely runs one statement at a time on the single
 * connection and reads results eagerly (all/run). A streamed (iterate) statement stays busy until its
 * rows are read, so it comes from a pool of its own: one statement per stream running at once, reused
 * by the next stream of the same SQL once it is done.
 *
 * Every Statement and Database object is also kept alive for the life of the process. better-sqlite3
 * before 13 wraps them in node::ObjectWrap, and since Node 24.19 finalising one from a garbage collection
 * that runs outside a JavaScript context aborts the process (`Assertion failed: (env) != nullptr` in
 * RemoveEnvironmentCleanupHook): at any moment under load, and at exit. Objects that are never
 * collected are instead released by Node's own environment cleanup. better-sqlite3 13 fixes it but
 * does not run on Node 20, which Bulwark still supports.
 *
 * So no statement is ever prepared twice for the same SQL: a retained statement that were dropped from
 * the cache and prepared again would only add to what is held, forever (a cache that started afresh
 * past a limit grew by a thousand statements each time it did, and each stream prepared one more).
 * The statements held are then the SQL texts the code can produce: its query shapes times their lists'
 * lengths, each capped by the batch sizes of the stores. A list that follows the process's state
 * rather than a batch goes in as one JSON parameter instead (the webhook claim's busy endpoints), so
 * it adds no text.
 */
const keepAlive: unknown[] = [];

/** Keeps a better-sqlite3 object alive for the life of the process (see above). */
export function retain<T>(object: T): T {
  keepAlive.push(object);
  return object;
}

export function cachingDatabase(db: SQLite.Database): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  const streams = new Map<string, SQLite.Statement[]>();
  keepAlive.push(db);
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      let stmt = cache.get(sql);
      if (!stmt) {
        stmt = retain(db.prepare(sql));
        cache.set(sql, stmt);
      }
      const s = stmt;
      return {
        reader: s.reader,
        all: (params) => s.all(params as unknown[]),
        run: (params) => s.run(params as unknown[]),
        iterate: (params) => streamStatement(db, streams, sql).iterate(params as unknown[]),
      };
    },
  };
}

/** A statement of `sql` no stream is reading: an idle one of the pool, or a new one added to it. */
function streamStatement(
  db: SQLite.Database,
  streams: Map<string, SQLite.Statement[]>,
  sql: string,
): SQLite.Statement {
  const pool = streams.get(sql) ?? [];
  streams.set(sql, pool);
  const idle = pool.find((stmt) => !stmt.busy);
  if (idle) return idle;
  const stmt = retain(db.prepare(sql));
  pool.push(stmt);
  return stmt;
}
