import { hostname } from "node:os";
import type { Db } from "../db/database.js";
import type { Logger } from "../log/logger.js";
import type { Counter, MetricsRegistry } from "../metrics/registry.js";
import { newId } from "../util/ids.js";
import type { JobRunRow } from "./tables.js";

/** When a scheduled job runs: its period, and how long after start its first run falls due. */
export interface JobSchedule {
  readonly everyMs: number;
  /** Default: a minute or two after start (nodes restarted daily still run a daily job). */
  readonly firstMs?: number;
}

interface Scheduled {
  readonly name: string;
  readonly schedule: JobSchedule;
  readonly fn: () => Promise<number>;
}

/**
 * Background jobs (OBS-6, OPS-2). Each run is a row written when it starts and completed when it ends,
 * so a run that never finished (the process died) stays visible as `running`; also a log line and
 * metrics. Scheduled jobs run only in a process that runs background work (`bulwark start`, `bulwark
 * worker`; not `bulwark start --no-worker`), and at most once per period across every process sharing
 * the database: a run first takes the job's lease (a row in `job_leases`, held until the period ends),
 * so two workers never purge, back up or erase the same rows at once.
 */
export class JobsService {
  private readonly node = `${hostname()}:${process.pid}`;
  private readonly runs: Counter;
  private readonly lastSuccess = new Map<string, number>();
  private readonly scheduled: Scheduled[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private started = false;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    metrics: MetricsRegistry,
    /** Whether this process runs background work (false: `bulwark start --no-worker`). */
    readonly background = true,
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

  /**
   * Runs `fn` as job `name` every `schedule.everyMs`, when this process runs background work and no
   * other process has run it within the period. Timers start with the app (`start`), stop with it.
   */
  schedule(name: string, schedule: JobSchedule, fn: () => Promise<number>): void {
    const job = { name, schedule, fn };
    this.scheduled.push(job);
    if (this.started) this.arm(job);
  }

  /** Starts the scheduled jobs' timers (the app is ready); a no-op without background work. */
  start(): void {
    if (!this.background || this.started) return;
    this.started = true;
    for (const job of this.scheduled) this.arm(job);
  }

  stop(): void {
    this.started = false;
    for (const t of this.timers.splice(0)) clearTimeout(t);
  }

  /**
   * Takes job `name`'s lease for `ms` when no process holds it: true once per period across every process
   * on this database, whatever their clocks' ticks. A conditional UPDATE, atomic on both engines.
   */
  async claim(name: string, ms: number): Promise<boolean> {
    const now = this.clock();
    await this.db
      .insertInto("job_leases")
      .values({ name, holder: "", until: 0 })
      .onConflict((oc) => oc.column("name").doNothing())
      .execute();
    const taken = await this.db
      .updateTable("job_leases")
      .set({ holder: this.node, until: now + ms })
      .where("name", "=", name)
      .where("until", "<=", now)
      .executeTakeFirst();
    return Number(taken.numUpdatedRows) === 1;
  }

  private arm(job: Scheduled): void {
    const { everyMs, firstMs = 60_000 + Math.floor(Math.random() * 60_000) } = job.schedule;
    // The lease ends a little before the period does, so a process's own next tick is never refused.
    const lease = everyMs - Math.min(everyMs / 10, 30_000);
    const tick = () =>
      void this.claim(job.name, lease)
        .then((mine) => (mine ? this.run(job.name, job.fn) : undefined))
        .catch((err: Error) => this.log.error({ job: job.name, reason: err.message }, "job not started"));
    const first = setTimeout(tick, Math.min(firstMs, everyMs));
    const every = setInterval(tick, everyMs);
    first.unref();
    every.unref();
    this.timers.push(first, every);
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
