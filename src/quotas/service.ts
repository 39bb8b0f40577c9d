import { AppError } from "../http/errors.js";
import type { Logger } from "../log/logger.js";
import type { Mailer } from "../mail/mailer.js";
import { templates } from "../mail/templates.js";
import type { OrgService } from "../orgs/service.js";
import { BroadcastCache } from "../state/broadcast-cache.js";
import type { InvalidationBus } from "../state/bus.js";
import type { QuotaStore } from "./store.js";
import type { UsageStore } from "./usage-store.js";

/** One unit's monthly allowance: refused past it (`refuse`) or only announced (`warn`). */
export interface Quota {
  readonly allowance: number;
  readonly mode: "refuse" | "warn";
}

export interface Usage extends Quota {
  readonly unit: string;
  readonly used: number;
}

/** The unit every tenant request counts in, when it has an allowance. */
export const API_REQUESTS = "api_requests";
const THRESHOLDS = [80, 100] as const;
const DAY = 86_400_000;
const CHANNEL = "bulwark:quotas:changed";

/** The UTC month of a moment, `YYYY-MM`: usage starts from zero on the 1st, 00:00 UTC. */
export const monthOf = (now: number): string => new Date(now).toISOString().slice(0, 7);

/** The first moment of the next UTC month. */
export function nextMonth(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/**
 * Monthly usage quotas per organisation (RATE-6). Each metered action adds to the organisation's count
 * for the unit and month in one atomic step (shared by every node with Redis); the action that crosses 80 %
 * and the one that crosses 100 % claim that month's notice in the database, so the owners and admins are
 * mailed once each per month even with several nodes. Past the allowance a `refuse` quota answers 429
 * QUOTA_EXCEEDED (the refused units are given back); a `warn` quota only mails.
 */
export class QuotaService {
  /** An organisation's quotas, per node; an admin's change drops them on every node (the bus). */
  private readonly cache: BroadcastCache<Map<string, Quota>>;
  /** Since when the usage store has been unreachable (logged once per outage). */
  private downSince: number | undefined;

  constructor(
    private readonly d: {
      readonly configured: ReadonlyMap<string, Quota>;
      readonly usage: UsageStore;
      readonly store: QuotaStore;
      readonly orgs: OrgService;
      readonly mailer: Mailer;
      readonly log: Logger;
      /** What metering does while the usage store is unreachable (RATE-5's general policy). */
      readonly onStoreError: "open" | "closed";
      readonly bus?: InvalidationBus;
      readonly now?: () => number;
    },
  ) {
    this.cache = new BroadcastCache(CHANNEL, 30_000, 10_000, d.bus, (map, orgId) => map.delete(orgId));
  }

  private now(): number {
    return this.d.now?.() ?? Date.now();
  }

  /** Whether any unit has an allowance (configured, or possibly set by an admin). */
  get units(): readonly string[] {
    return [...this.d.configured.keys()];
  }

  /** The organisation's quotas: the configured ones, with an admin's overrides. */
  async quotas(orgId: string): Promise<Map<string, Quota>> {
    const now = this.now();
    const hit = this.cache.get(orgId, now);
    if (hit) return hit;
    const all = new Map(this.d.configured);
    for (const o of await this.d.store.overrides(orgId))
      all.set(o.unit, { allowance: o.allowance, mode: o.mode });
    this.cache.set(orgId, all, now);
    return all;
  }

  /** The id of an existing organisation (admin routes), or 404. */
  async existing(orgId: string): Promise<string> {
    await this.d.orgs.get(orgId);
    return orgId;
  }

  /** Sets an organisation's allowance for a unit (platform admins). */
  async set(orgId: string, unit: string, quota: Quota): Promise<void> {
    await this.d.store.setOverride({ org_id: orgId, unit, ...quota, updated_at: this.now() });
    await this.cache.invalidate(orgId);
  }

  /** This month's usage of every unit with an allowance. */
  async usage(orgId: string): Promise<{ month: string; resetsAt: number; units: Usage[] }> {
    const now = this.now();
    const month = monthOf(now);
    const units: Usage[] = [];
    for (const [unit, q] of await this.quotas(orgId))
      units.push({ unit, ...q, used: await this.d.usage.get(`${orgId}:${unit}:${month}`) });
    return { month, resetsAt: nextMonth(now), units };
  }

  /**
   * Counts `quantity` of `unit` for the organisation. Without an allowance for the unit nothing is
   * counted. Throws QUOTA_EXCEEDED when a `refuse` quota would be exceeded.
   */
  async meter(
    orgId: string,
    unit: string,
    quantity = 1,
  ): Promise<{ used: number; allowance: number } | undefined> {
    if (!Number.isInteger(quantity) || quantity < 1)
      throw new RangeError(`meter: quantity must be a whole number of at least 1 (got ${quantity})`);
    const q = (await this.quotas(orgId)).get(unit);
    if (!q) return undefined;
    const now = this.now();
    const month = monthOf(now);
    const key = `${orgId}:${unit}:${month}`;
    const ttl = nextMonth(now) - now + 7 * DAY;
    let used: number;
    try {
      used = await this.d.usage.add(key, quantity, ttl);
      this.reachable();
    } catch (err) {
      return this.unreachable(err as Error);
    }
    const before = used - quantity;
    if (q.mode === "refuse" && used > q.allowance) {
      await this.d.usage.add(key, -quantity, ttl).catch(() => {});
      // Metered in chunks, usage can stop short of 100 % and be refused: once it is past 80 %, the
      // owners hear of it as used up (an oversized request on a fresh month mails nobody).
      if (before >= q.allowance * 0.8) this.notify(orgId, unit, month, 100, before, q);
      const days = Math.max(1, Math.ceil((nextMonth(now) - now) / DAY));
      throw new AppError(
        "QUOTA_EXCEEDED",
        `This organisation's monthly allowance of ${q.allowance} ${unit} is used up; it renews in ${days} day${days === 1 ? "" : "s"}.`,
        undefined,
        { "retry-after": String(Math.ceil((nextMonth(now) - now) / 1000)) },
      );
    }
    for (const pct of THRESHOLDS) {
      const mark = (q.allowance * pct) / 100;
      if (before < mark && used >= mark) this.notify(orgId, unit, month, pct, used, q);
    }
    return { used, allowance: q.allowance };
  }

  /** The usage store failed: meter nothing (open) or refuse with 503 (closed); logged once per outage. */
  private unreachable(err: Error): undefined {
    if (this.downSince === undefined) {
      this.downSince = Date.now();
      this.d.log.warn({ reason: err.message }, "usage store unreachable: quotas not counted");
    }
    if (this.d.onStoreError === "open") return undefined;
    throw new AppError("SERVICE_UNAVAILABLE", "Usage metering is unavailable; retry shortly.", undefined, {
      "retry-after": "5",
    });
  }

  private reachable(): void {
    if (this.downSince === undefined) return;
    this.d.log.info({ downMs: Date.now() - this.downSince }, "usage store reachable again");
    this.downSince = undefined;
  }

  /** Mails the owners and admins once per month per threshold; never delays or fails the request. */
  private notify(orgId: string, unit: string, month: string, pct: number, used: number, q: Quota): void {
    const send = async () => {
      if (!(await this.d.store.claimNotice(orgId, unit, month, pct, this.now()))) return;
      const org = await this.d.orgs.get(orgId);
      const members = await this.d.orgs.listMembers(orgId, 200, undefined);
      for (const m of members.filter((x) => x.role === "OWNER" || x.role === "ADMIN"))
        await this.d.mailer.send(
          templates.quotaNotice(m.email, org.name, unit, pct, used, q.allowance, q.mode),
        );
      this.d.log.info({ event: "quota.notice", orgId, unit, month, threshold: pct }, "quota notice sent");
    };
    this.pending = this.pending
      .then(send)
      .catch((err: Error) => this.d.log.warn({ orgId, unit, reason: err.message }, "quota notice failed"));
  }

  private pending: Promise<void> = Promise.resolve();

  /** Settles once every notice started so far has been sent (tests; shutdown). */
  settled(): Promise<void> {
    return this.pending;
  }
}
