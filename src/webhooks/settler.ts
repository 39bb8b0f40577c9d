import type { Database, Db } from "../db/database.js";
import type { Logger } from "../log/logger.js";
import type { Counter } from "../metrics/registry.js";
import { newId } from "../util/ids.js";
import type { AttemptOutcome } from "./sender.js";
import type { WebhookStore } from "./store.js";
import type { WebhookDeliveryRow, WebhookEndpointRow } from "./tables.js";

export interface SettleSettings {
  readonly retryScheduleMs: readonly number[];
  readonly breakerFailures: number;
  readonly breakerCooldownMs: number;
}

/**
 * What becomes of a delivery after an attempt (HOOK-3, HOOK-5): the attempt recorded, the delivery
 * succeeded, rescheduled on the retry schedule or dead-lettered, and its endpoint's failures, breaker
 * and 410 applied. Attempts that finish together settle in one transaction per organisation.
 */
export class AttemptSettler {
  /** Attempts waiting to be settled, per organisation. */
  private readonly settling = new Map<string, Settling[]>();

  constructor(
    private readonly db: Database,
    private readonly store: WebhookStore,
    private readonly settings: SettleSettings,
    private readonly log: Logger,
    private readonly outcomes: Counter,
    /** Endpoints last seen with an open breaker (for /metrics), kept up to date here. */
    private readonly open: Set<string>,
    private readonly clock: () => number,
    private readonly random: () => number,
  ) {}

  /**
   * Records the attempt, moves the delivery on and updates the endpoint. Attempts that finish together
   * are settled together, one transaction per organisation (a commit per delivery was most of the cost).
   */
  settle(
    d: WebhookDeliveryRow,
    token: string,
    endpoint: WebhookEndpointRow,
    o: AttemptOutcome,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const batch = this.settling.get(d.org_id) ?? [];
      batch.push({ d, token, endpoint, o, now: this.clock(), resolve, reject });
      this.settling.set(d.org_id, batch);
      if (batch.length === 1) setImmediate(() => void this.settleBatch(d.org_id));
    });
  }

  private async settleBatch(orgId: string): Promise<void> {
    // By endpoint: concurrent batches then lock endpoint rows in one order (no deadlock between them).
    const batch = (this.settling.get(orgId) ?? []).sort((a, b) =>
      a.endpoint.id < b.endpoint.id ? -1 : a.endpoint.id > b.endpoint.id ? 1 : 0,
    );
    this.settling.delete(orgId);
    try {
      await this.settleTogether(orgId, batch);
    } catch (err) {
      // One item's failure must not fail the others (a 2xx recorded as "not sent"): each on its own.
      if (batch.length === 1) return batch[0]!.reject(err as Error);
      for (const item of batch) await this.settleTogether(orgId, [item]).catch((e: Error) => item.reject(e));
    }
  }

  private async settleTogether(orgId: string, batch: readonly Settling[]): Promise<void> {
    const gone: Settling[] = [];
    const outcomes: string[] = [];
    await this.db.withOrg(orgId, async (tx: Db) => {
      await this.store.insertAttempts(
        tx,
        batch.map(({ d, endpoint, o, now }) => ({
          id: newId("wha", now),
          org_id: orgId,
          delivery_id: d.id,
          endpoint_id: endpoint.id,
          at: now - o.durationMs,
          duration_ms: o.durationMs,
          status: o.status ?? null,
          response: o.response ?? null,
          error: o.error ?? null,
        })),
      );
      // What becomes of each delivery depends only on its own attempt: decided first, written in one
      // statement per claim and outcome, then the endpoints follow in arrival order.
      // Final outcomes carry the batch's time, so deliveries that ended together share one statement.
      const at = Math.max(...batch.map((i) => i.now));
      const plans = batch.map((item) => ({ item, ...this.plan(item, at) }));
      outcomes.length = 0;
      for (const p of plans) outcomes.push(p.outcome);
      const mine = new Set<string>();
      const groups = new Map<string, typeof plans>();
      for (const p of plans) {
        const key = JSON.stringify([p.item.token, p.set]);
        const group = groups.get(key) ?? [];
        group.push(p);
        groups.set(key, group);
      }
      for (const group of groups.values()) {
        const { item, set } = group[0]!;
        const ids = group.map((p) => p.item.d.id);
        for (const id of await this.store.settleMany(tx, ids, item.token, set)) mine.add(id);
      }
      const recovered = new Set<string>();
      for (const { item, ok, isGone } of plans) {
        const { d, endpoint, now } = item;
        // The claim was lost (its lease ran out and another worker took it): that one decides the endpoint.
        if (!mine.has(d.id)) continue;
        if (isGone) gone.push(item);
        // A success closes the breaker and ends the run of failures, without reading the endpoint.
        if (ok) {
          this.open.delete(endpoint.id);
          if (!recovered.has(endpoint.id)) await this.store.recovered(tx, orgId, endpoint.id);
          recovered.add(endpoint.id);
          continue;
        }
        recovered.delete(endpoint.id);
        // Read again, locked: other deliveries to it may have settled since this one was sent.
        const fresh = (await this.store.endpoint(tx, orgId, endpoint.id, true)) ?? endpoint;
        await this.store.updateEndpoint(tx, orgId, endpoint.id, this.endpointAfter(fresh, ok, isGone, now));
      }
    });
    for (const { endpoint } of gone)
      this.log.warn({ endpoint: endpoint.id, org: orgId }, "webhook endpoint answered 410 Gone: disabled");
    // Counted once committed: a batch that fails is settled again item by item, and counted then.
    for (const outcome of outcomes) this.outcomes.inc([outcome]);
    for (const item of batch) item.resolve();
  }

  /**
   * The delivery after its attempt (HOOK-3): succeeded, dead (a final answer or the schedule used up) or
   * pending until its next turn, and the outcome the metrics count.
   */
  private plan({ d, o, now }: Settling, at: number) {
    // The claim counted this attempt.
    const attempts = d.attempts;
    const ok = o.status !== undefined && o.status >= 200 && o.status < 300;
    const isGone = o.status === 410;
    // Retried: no answer, 5xx and 429. Any other answer (a 4xx) is final: the receiver refused it.
    const retryable = !ok && !isGone && (o.status === undefined || o.status >= 500 || o.status === 429);
    const wait = this.settings.retryScheduleMs[attempts - 1];
    const last = !retryable || wait === undefined;
    const outcome = ok ? "succeeded" : isGone ? "gone" : o.refused ? "refused" : last ? "dead" : "retry";
    const set = {
      status: ok ? "succeeded" : last ? "dead" : "pending",
      attempts,
      next_at: last ? at : now + this.jittered(wait!, o.retryAfterMs),
      last_status: o.status ?? null,
      last_error: o.error ?? (ok ? null : `HTTP ${o.status}`),
      updated_at: last ? at : now,
    };
    return { ok, isGone, set, outcome };
  }

  /** The endpoint's failures and breaker after an attempt (HOOK-5), and 410's disabling. */
  private endpointAfter(
    e: WebhookEndpointRow,
    ok: boolean,
    gone: boolean,
    now: number,
  ): Partial<WebhookEndpointRow> {
    if (gone) return { enabled: 0, disabled_reason: "gone", updated_at: now };
    if (ok) {
      this.open.delete(e.id);
      return e.failures === 0 && e.breaker === "closed"
        ? {}
        : { failures: 0, breaker: "closed", breaker_until: null };
    }
    const failures = e.failures + 1;
    if (e.breaker !== "closed" || failures >= this.settings.breakerFailures) {
      this.open.add(e.id);
      if (e.breaker === "closed")
        this.log.warn({ endpoint: e.id, failures }, "webhook endpoint breaker opened");
      return { failures, breaker: "open", breaker_until: now + this.settings.breakerCooldownMs };
    }
    return { failures };
  }

  /** The schedule's wait ±10 % (so retries of a burst spread out), never shorter than Retry-After. */
  jittered(wait: number, retryAfterMs: number | undefined): number {
    const spread = Math.round(wait * (0.9 + 0.2 * this.random()));
    return Math.min(Math.max(spread, retryAfterMs ?? 0), 86_400_000);
  }
}

/** A finished attempt waiting for its organisation's settling transaction. */
interface Settling {
  readonly d: WebhookDeliveryRow;
  readonly token: string;
  readonly endpoint: WebhookEndpointRow;
  readonly o: AttemptOutcome;
  readonly now: number;
  resolve(): void;
  reject(err: Error): void;
}
