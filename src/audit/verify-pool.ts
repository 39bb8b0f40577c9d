import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { CheckedBatch } from "./verify.js";
import { type Chunk, chunkAt } from "./verify-sqlite.js";

/** Rows per chunk a worker checks at once. */
export const CHUNK = 4096;

/** A worker thread checking chunks in the order it is given them (verify-worker.ts). */
class ChunkWorker {
  private readonly worker: Worker;
  private readonly waiting: { resolve: (b: CheckedBatch) => void; reject: (e: Error) => void }[] = [];

  constructor(file: string) {
    // From the sources (the tests), the worker is TypeScript: it loads it through the tests' loader.
    const ts = import.meta.url.endsWith(".ts");
    this.worker = new Worker(new URL(`./verify-worker.${ts ? "ts" : "js"}`, import.meta.url), {
      workerData: { file, typescript: ts },
      execArgv: ts ? ["--import", new URL("../../test/run-ts.mjs", import.meta.url).href] : undefined,
    });
    this.worker.on("message", (m: CheckedBatch | { error: string }) => {
      const next = this.waiting.shift();
      if ("error" in m) next?.reject(new Error(m.error));
      else next?.resolve(m);
    });
    this.worker.on("error", (err) => {
      for (const w of this.waiting.splice(0)) w.reject(err);
    });
    // A worker gone without an error (killed, out of memory) must not leave verification waiting.
    this.worker.on("exit", (code) => {
      for (const w of this.waiting.splice(0))
        w.reject(new Error(`a verification worker stopped (exit code ${code})`));
    });
  }

  check(chunk: Chunk): Promise<CheckedBatch> {
    const answer = new Promise<CheckedBatch>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.worker.postMessage(chunk);
    });
    // Awaited in order, later: a failure before then is not an unhandled rejection meanwhile.
    answer.catch(() => {});
    return answer;
  }

  stop(): Promise<number> {
    return this.worker.terminate();
  }
}

/**
 * The rows `0 … end - 1` of an SQLite log, checked row by row on worker threads (one per core, up to
 * `workers`), chunk after chunk, in order: the main thread is left with building the tree. At most two
 * chunks per worker are in flight, so memory stays bounded whatever the log's size.
 */
export async function* checkedInParallel(
  file: string,
  log: string,
  end: number,
  retentionCutoff: number,
  options: { workers?: number; chunk?: number } = {},
  /** Positions erased with their account (GDPR-2). */
  erased: ReadonlySet<number>,
  /** Where signed checkpoints end (tree sizes): each chunk's tree edge is taken there too. */
  sizes: readonly number[],
): AsyncGenerator<CheckedBatch> {
  const erasedList = [...erased].sort((a, b) => a - b);
  const size = options.chunk ?? CHUNK;
  const chunks = Math.ceil(end / size);
  const pool = Array.from(
    { length: Math.max(1, Math.min(options.workers ?? 4, availableParallelism(), chunks)) },
    () => new ChunkWorker(file),
  );
  const inflight: Promise<CheckedBatch>[] = [];
  let next = 0;
  const send = () => {
    const chunk = chunkAt(log, next * size, size, end, retentionCutoff, erasedList, sizes);
    inflight.push(pool[next % pool.length]!.check(chunk));
    next++;
  };
  try {
    while (next < chunks && inflight.length < 2 * pool.length) send();
    while (inflight.length > 0) {
      const batch = await inflight.shift()!;
      if (next < chunks) send();
      yield batch;
      if (batch.finding) return;
    }
  } finally {
    // Unanswered chunks are dropped with their workers.
    await Promise.all(pool.map((w) => w.stop()));
  }
}
