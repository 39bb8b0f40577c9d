import { hostname } from "node:os";
import type { Db } from "../db/database.js";
import type { Logger } from "../log/logger.js";
import type { Counter, MetricsRegistry } from "../metrics/registry.js";
import { newId } from "../util/ids.js";
import type { JobRunRow } from "./tables.js";

/**
 * Background jobs' runs (OBS-6): each is a row written when it starts and completed when it ends, so a
 * run that never finished (the process died) stays visible as `running`. Also a log line and metrics.
 */
export class JobsService {
  private readonly node = `${hostname()}:${process.pid}`;
  private readonly runs: Counter;
  private readonly lastSuccess = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    metrics: MetricsRegistry,
    private readonly clock: () => number = Date.now,
  ) {
    this.runs = metrics.counter("bulwark_job_runs_total", "Background job runs, by job and outcome.", [
      "job",
      "status",
    ]);
    metrics.gauge(
      "bulwark_job_last_success_seconds",
      "Age of the oldest latest success among this process's jobs.",
      () => {
        if (this.lastSuccess.size === 0) return 0;
        return Math.round((this.clock() - Math.min(...this.lastSuccess.values())) / 1000);
      },
    );
  }

  /** Runs `fn` as job `name`, recording its outcome; `fn` returns how many rows it handled. Never throws. */
  async run(name: string, fn: () => Promise<number>): Promise<JobRunRow> {
    const started = this.clock();
    const row: JobRunRow = {
      id: newId("job", started),
      name,
      status: "running",
      started_at: started,
      finished_at: null,
      duration_ms: null,
      rows: null,
      error: null,
      node: this.node,
    };
    try {
      await this.db.insertInto("job_runs").values(row).execute();
    } catch (err) {
      this.log.error(
        { job: name, reason: (err as Error).message },
        "job not started: its run could not be recorded",
      );
      return { ...row, status: "failed", error: (err as Error).message };
    }
    let done: JobRunRow;
    try {
      const rows = await fn();
      const at = this.clock();
      done = { ...row, status: "succeeded", finished_at: at, duration_ms: at - started, rows };
    } catch (err) {
      const at = this.clock();
      done = {
        ...row,
        status: "failed",
        finished_at: at,
        duration_ms: at - started,
        error: (err as Error).message.slice(0, 500),
      };
    }
    await this.db
      .updateTable("job_runs")
      .set({
        status: done.status,
        finished_at: done.finished_at,
        duration_ms: done.duration_ms,
        rows: done.rows,
        error: done.error,
      })
      .where("id", "=", row.id)
      .execute()
      .catch((err: Error) => this.log.error({ job: name, reason: err.message }, "job run not recorded"));
    const level = done.status === "failed" ? "error" : "info";
    this.log[level](
      {
        job: name,
        status: done.status,
        durationMs: done.duration_ms,
        rows: done.rows,
        error: done.error ?? undefined,
      },
      "job finished",
    );
    this.runs.inc([name, done.status]);
    if (done.status === "succeeded") this.lastSuccess.set(name, done.finished_at ?? started);
    return done;
  }

  async list(limit: number, name?: string): Promise<JobRunRow[]> {
    let q = this.db.selectFrom("job_runs").selectAll();
    if (name) q = q.where("name", "=", name);
    const rows = await q.orderBy("started_at", "desc").orderBy("id", "desc").limit(limit).execute();
    return rows.map((r) => ({
      ...r,
      started_at: Number(r.started_at),
      finished_at: r.finished_at === null ? null : Number(r.finished_at),
      duration_ms: r.duration_ms === null ? null : Number(r.duration_ms),
      rows: r.rows === null ? null : Number(r.rows),
    }));
  }
}
