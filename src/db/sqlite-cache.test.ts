import SQLite from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { cachingDatabase } from "./sqlite-cache.js";

/** A real in-memory database whose prepare() calls are counted per SQL text (and still prepared). */
function counted() {
  const db = new SQLite(":memory:");
  db.exec("CREATE TABLE t (x INTEGER)");
  db.exec("INSERT INTO t VALUES (1), (2), (3)");
  const prepared = new Map<string, number>();
  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    prepared.set(sql, (prepared.get(sql) ?? 0) + 1);
    return prepare(sql);
  }) as typeof db.prepare;
  return { db, prepared, cached: cachingDatabase(db) };
}

const rowsOf = (iter: IterableIterator<unknown>) => [...iter].map((r) => (r as { x: number }).x);

describe("SQLite statement cache (every statement is held for the life of the process)", () => {
  it("prepares each SQL text once, however many texts it has seen since", () => {
    const { db, prepared, cached } = counted();
    for (let i = 0; i < 1_500; i++) cached.prepare(`SELECT x + ${i} AS x FROM t`).all([]);
    expect(cached.prepare("SELECT x + 0 AS x FROM t").all([])).toEqual([{ x: 1 }, { x: 2 }, { x: 3 }]);
    expect(prepared.get("SELECT x + 0 AS x FROM t")).toBe(1);
    expect(prepared.size).toBe(1_500);
    db.close();
  });

  it("gives a stream a statement no other stream is reading, and reuses it once the stream is done", () => {
    const { db, prepared, cached } = counted();
    const sql = "SELECT x FROM t WHERE x >= ? ORDER BY x";
    // One statement for all() and run(), which Kysely prepares before it streams, and one for streams.
    for (let i = 0; i < 50; i++) expect(rowsOf(cached.prepare(sql).iterate([2]))).toEqual([2, 3]);
    expect(prepared.get(sql)).toBe(2);

    // Two streams read at once, interleaved: each has its own statement and its own rows.
    const a = cached.prepare(sql).iterate([1]);
    const b = cached.prepare(sql).iterate([3]);
    expect([a.next().value, b.next().value, a.next().value, b.next().done]).toEqual([
      { x: 1 },
      { x: 3 },
      { x: 2 },
      true,
    ]);
    expect(prepared.get(sql)).toBe(3);
    // A stream left early (a consumer that stops reading returns its iterator) frees its statement too:
    // with another stream still open, the next one gets the returned one's statement, not a new one.
    const d = cached.prepare(sql).iterate([1]);
    expect(d.next().value).toEqual({ x: 1 });
    a.return?.();
    expect(rowsOf(cached.prepare(sql).iterate([1]))).toEqual([1, 2, 3]);
    expect(prepared.get(sql)).toBe(3);
    expect(rowsOf(d)).toEqual([2, 3]);
    // A statement read with all() is not one a stream holds: both work side by side.
    const c = cached.prepare(sql).iterate([1]);
    c.next();
    expect(cached.prepare(sql).all([3])).toEqual([{ x: 3 }]);
    expect(rowsOf(c)).toEqual([2, 3]);
    db.close();
  });
});
