import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Db } from "../db/database.js";
import type { Logger } from "../log/logger.js";
import type { Counter, MetricsRegistry } from "../metrics/registry.js";
import { newId } from "../util/ids.js";
import { LeaseStore } from "./leases.js";
import type { JobRunRow } from "./tables.js";

/** When a scheduled job runs: its period, and how long after start its first run falls due. */
export interface JobSchedule {
  readonly everyMs: number;
  /** Default: a minute or two after start (nodes restarted daily still run a daily job). */
  readonly firstMs?: number;
  /** The lease's name, when not the job's (a period per key: re-sealing under each new data key). */
  readonly lease?: string;
}

interface Scheduled {
  readonly name: string;
  readonly schedule: JobSchedule;
  readonly fn: () => Promise<number>;
}

/** A failed run is tried again this soon (or after its period, when shorter), by whichever process. */
const RETRY_MS = 300_000;

/**
 * Background jobs (OBS-6, OPS-2). Each run is a row written when it starts and completed when it ends,
 * so a run that never finished (the process died) stays visible as `running`; also a log line and
 * metrics. Scheduled jobs run only in a process that runs background work (`bulwark start`, `bulwark
 * worker`; not `bulwark start --no-worker`), and once per period among every process sharing the
 * database: a run first takes the job's lease (`LeaseStore`) for a period, renewed while the run lasts,
 * so two processes never run one job at once; each process's next try falls when the lease ends. A
 * failed run gives the lease back for a retry within five minutes; a process that dies mid-run leaves
 * its lease to run out (at most a period).
 */
export class JobsService {
  private readonly node = `${hostname()}:${process.pid}`;
  /** This service's name on leases: two services in one process (tests) are two holders. */
  private readonly holder = `${this.node}:${randomBytes(4).toString("hex")}`;
  private readonly leases: LeaseStore;
  private readonly runs: Counter;
  private readonly lastSuccess = new Map<string, number>();
  private readonly scheduled: Scheduled[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private started = false;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    metrics: MetricsRegistry,
    /** Whether this process runs background work (false: `bulwark start --no-worker`). */
    readonly background = true,
    private readonly clock: () => number = Date.now,
  ) {
    this.leases = new LeaseStore(db, clock);
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
   * Runs `fn` as job `name` once per `schedule.everyMs` among the processes that run background work.
   * Timers start with the app (`start`) and stop with it.
   */
  schedule(name: string, schedule: JobSchedule, fn: () => Promise<number>): void {
    const job = { name, schedule, fn };
    this.scheduled.push(job);
    if (this.started) this.arm(job);
  }

  /** The scheduled jobs and their periods, in the order they were scheduled. */
  schedules(): Record<string, number> {
    return Object.fromEntries(this.scheduled.map((j) => [j.name, j.schedule.everyMs]));
  }

  /** Starts the scheduled jobs' timers (the app is ready); a no-op without background work. */
  start(): void {
    if (!this.background || this.started) return;
    this.started = true;
    for (const job of this.scheduled) this.arm(job);
  }

  /** Stops the timers, then waits for the runs in progress (OPS-3: a drain leaves none half-done). */
  async stop(): Promise<void> {
    this.started = false;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
  }

  /**
   * Runs `fn` as job `name` if lease `lease` is free, holding it for `everyMs` and renewing it while the
   * run lasts; a failed run keeps it only RETRY_MS. Returns whether it ran and when the lease ends.
   */
  async runLeased(
    name: string,
    lease: string,
    everyMs: number,
    fn: () => Promise<number>,
  ): Promise<{ ran?: JobRunRow; until: number }> {
    const got = await this.leases.take(lease, this.holder, everyMs);
    if (!got.mine) return { until: got.until };
    const renew = setInterval(
      () =>
        void this.leases
          .move(lease, this.holder, everyMs)
          .catch((err: Error) => this.log.warn({ job: name, reason: err.message }, "lease not renewed")),
      Math.max(1_000, everyMs / 2),
    );
    renew.unref();
    const running = this.run(name, fn);
    this.inFlight.add(running);
    try {
      const ran = await running;
      const until =
        ran.status === "failed"
          ? await this.leases.move(lease, this.holder, Math.min(everyMs, RETRY_MS))
          : got.until;
      return { ran, until };
    } finally {
      clearInterval(renew);
      this.inFlight.delete(running);
    }
  }

  /** One timer per job, set again after each try for when its lease ends: never two runs at once here. */
  private arm(job: Scheduled): void {
    const { everyMs, firstMs = 60_000 + Math.floor(Math.random() * 60_000), lease } = job.schedule;
    const at = (ms: number) => {
      if (!this.started) return;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void tick();
      }, ms);
      timer.unref();
      this.timers.add(timer);
    };
    const tick = async () => {
      let next = Math.min(everyMs, RETRY_MS);
      try {
        const { until } = await this.runLeased(job.name, lease ?? job.name, everyMs, job.fn);
        // A little after the lease ends, so the processes waiting for it do not all ask at once.
        next = Math.max(1_000, until - this.clock()) + Math.floor(Math.random() * 1_000);
      } catch (err) {
        this.log.error({ job: job.name, reason: (err as Error).message }, "job not started");
      }
      at(next);
    };
    at(Math.min(firstMs, everyMs));
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

  /** The newest run of each job that ever ran, by name: what an operator looks at first. */
  async latest(): Promise<JobRunRow[]> {
    const newest = this.db
      .selectFrom("job_runs")
      .select(["name", (eb) => eb.fn.max("started_at").as("at")])
      .groupBy("name")
      .as("newest");
    const rows = await this.db
      .selectFrom("job_runs")
      .innerJoin(newest, (j) =>
        j.onRef("newest.name", "=", "job_runs.name").onRef("newest.at", "=", "job_runs.started_at"),
      )
      .selectAll("job_runs")
      .orderBy("job_runs.name")
      .orderBy("job_runs.id", "desc")
      .execute();
    const seen = new Set<string>();
    return this.typed(rows.filter((r) => !seen.has(r.name) && seen.add(r.name)));
  }

  async list(limit: number, name?: string): Promise<JobRunRow[]> {
    let q = this.db.selectFrom("job_runs").selectAll();
    if (name) q = q.where("name", "=", name);
    return this.typed(await q.orderBy("started_at", "desc").orderBy("id", "desc").limit(limit).execute());
  }

  /** Rows with their numbers as numbers (PostgreSQL returns bigint as text). */
  private typed(rows: JobRunRow[]): JobRunRow[] {
    return rows.map((r) => ({
      ...r,
      started_at: Number(r.started_at),
      finished_at: r.finished_at === null ? null : Number(r.finished_at),
      duration_ms: r.duration_ms === null ? null : Number(r.duration_ms),
      rows: r.rows === null ? null : Number(r.rows),
    }));
  }
}
