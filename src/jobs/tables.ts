/** One run of a background job (OBS-6): what ran, how it ended, how long it took, how much it did. */
export interface JobRunRow {
  id: string;
  name: string;
  status: "running" | "succeeded" | "failed";
  started_at: number;
  finished_at: number | null;
  duration_ms: number | null;
  rows: number | null;
  /** The failure's message (never a stack, never data). */
  error: string | null;
  /** Which process ran it: host and pid. */
  node: string;
}

/** A scheduled job's lease (OPS-2): the process that runs it this period, and until when. */
export interface JobLeaseRow {
  name: string;
  holder: string;
  until: number;
}

declare module "../db/tables.js" {
  interface Tables {
    job_runs: JobRunRow;
    job_leases: JobLeaseRow;
  }
}
