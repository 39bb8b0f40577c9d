import type { Db } from "../db/database.js";

/** The outcome of asking for a lease: whether this holder has it, and until when it is held. */
export interface Lease {
  readonly mine: boolean;
  readonly until: number;
}

/**
 * Scheduled jobs' leases (OPS-2): one row per job in `job_leases`, naming the process that holds it and
 * until when. Taking one is a conditional UPDATE (`until <= now`), atomic on both engines, so among any
 * number of processes on one database exactly one gets an expired lease. Times are the processes'
 * clocks: hosts are expected to keep them synchronised (NTP); a skew shortens or lengthens a period by
 * as much.
 */
export class LeaseStore {
  constructor(
    private readonly db: Db,
    private readonly clock: () => number,
  ) {}

  /** Takes lease `name` for `ms` if it has run out; otherwise says until when another holds it. */
  async take(name: string, holder: string, ms: number): Promise<Lease> {
    const now = this.clock();
    const until = now + Math.ceil(ms);
    await this.db
      .insertInto("job_leases")
      .values({ name, holder: "", until: 0 })
      .onConflict((oc) => oc.column("name").doNothing())
      .execute();
    const taken = await this.db
      .updateTable("job_leases")
      .set({ holder, until })
      .where("name", "=", name)
      .where("until", "<=", now)
      .executeTakeFirst();
    if (Number(taken.numUpdatedRows) === 1) return { mine: true, until };
    const row = await this.db
      .selectFrom("job_leases")
      .select("until")
      .where("name", "=", name)
      .executeTakeFirst();
    return { mine: false, until: Number(row?.until ?? now) };
  }

  /** Moves the end of a lease this holder still has to `ms` from now (longer runs; a failure's retry). */
  async move(name: string, holder: string, ms: number): Promise<number> {
    const until = this.clock() + Math.ceil(ms);
    await this.db
      .updateTable("job_leases")
      .set({ until })
      .where("name", "=", name)
      .where("holder", "=", holder)
      .execute();
    return until;
  }
}
