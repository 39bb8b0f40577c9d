// A verification worker (verify-pool.ts): checks chunks of an SQLite log through a read-only handle of
// its own and sends back their part of the tree (their compact range at each checkpoint inside and at
// their end). A row's position, id and leaf never change once written
// (retention only blanks old content), so chunks read by different handles agree whatever each one's
// snapshot; verification checks the log as it stood when it began.

import { parentPort, workerData } from "node:worker_threads";
import SQLite from "better-sqlite3";
import { type Chunk, checkChunk } from "./verify-sqlite.js";

const db = new SQLite((workerData as { file: string }).file, { readonly: true, fileMustExist: true });
// Pages read through a memory map rather than one read() each: a worker reads the whole log once, and the
// system calls were a tenth of its time. Read-only, so a map never writes; SQLite keeps it coherent with
// writers (a running server's) as it does its page cache.
db.pragma(`mmap_size = ${2 ** 30}`);
const statements = new Map<string, SQLite.Statement>();
const select = (text: string, params: readonly unknown[]): unknown[][] => {
  let stmt = statements.get(text);
  if (!stmt) {
    stmt = db.prepare(text).raw(true);
    statements.set(text, stmt);
  }
  return stmt.all(...params) as unknown[][];
};

parentPort!.on("message", (chunk: Chunk) => {
  try {
    const batch = checkChunk(select, chunk);
    const moved = [batch.createdAt.buffer, ...batch.edges.map((e) => e.hashes.buffer)] as ArrayBuffer[];
    parentPort!.postMessage(batch, moved);
  } catch (err) {
    parentPort!.postMessage({ error: (err as Error).message });
  }
});
