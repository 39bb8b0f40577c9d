import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Database } from "../db/database.js";
import type { Logger } from "../log/logger.js";
import type { Counter, MetricsRegistry } from "../metrics/registry.js";
import { newId } from "../util/ids.js";
import type { WebhookSender } from "./sender.js";
import type { WebhookService } from "./service.js";
import { AttemptSettler } from "./settler.js";
import { signedHeaders } from "./signing.js";
import type { WebhookStore } from "./store.js";
import type { WebhookDeliveryRow, WebhookEndpointRow } from "./tables.js";

export interface DispatchSettings {
  readonly retryScheduleMs: readonly number[];
  readonly timeoutMs: number;
  readonly breakerFailures: number;
  readonly breakerCooldownMs: number;
  readonly concurrency: number;
  readonly endpointConcurrency: number;
  /** How often the queue is looked at when idle (a commit also wakes it, on this node). */
  readonly pollMs?: number;
}

/** A claim outlives the attempt's timeout by this much before another worker may take it over. */
const LEASE_MARGIN_MS = 30_000;
/**
 * A busy process claims freed slots in batches: each claim is a write transaction, and one per finished
 * delivery cost more than the delivery. A slot waits at most this long for others to free up.
 */
const CLAIM_BATCH_WAIT_MS = 2;
/** Messages fanned out per organisation per transaction. */
const FAN_OUT_BATCH = 500;
/** While a half-open breaker's probe is out, the endpoint's other deliveries wait this long. */
const PROBE_WAIT_MS = 5_000;

/**
 * The webhook dispatcher (HOOK-3…HOOK-6): turns outbox messages into one delivery per matching endpoint,
 * claims due deliveries with a lease (on PostgreSQL with SKIP LOCKED, so several workers share the queue;
 * a dead worker's claims are taken over once their lease ends), sends them signed with bounded
 * concurrency overall and per endpoint, records every attempt, and reschedules, dead-letters, disables
 * (410) or trips the endpoint's breaker. Runs inside `bulwark start` or alone as `bulwark worker`.
 */
export class WebhookDispatcher {
  readonly node = `${hostname()}:${process.pid}`;
  private readonly inflight = new Map<string, number>();
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private claimSoon: NodeJS.Timeout | undefined;
  private lookSoon: NodeJS.Immediate | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private fanOutNext = false;
  private stopped = true;
  private readonly work = new Set<Promise<void>>();
  private readonly outcomes: Counter;
  private readonly settler: AttemptSettler;
  /** Endpoints this process last saw with an open breaker (for /metrics). */
  private readonly open = new Set<string>();

  constructor(
    private readonly db: Database,
    private readonly store: WebhookStore,
    private readonly service: WebhookService,
    private readonly sender: WebhookSender,
    private readonly settings: DispatchSettings,
    private readonly log: Logger,
    metrics: MetricsRegistry,
    private readonly clock: () => number = () => Date.now(),
    random: () => number = Math.random,
  ) {
    this.outcomes = metrics.counter(
      "bulwark_webhook_attempts_total",
      "Webhook delivery attempts, by outcome (succeeded, retry, dead, refused, gone).",
      ["outcome"],
    );
    this.settler = new AttemptSettler(db, store, settings, log, this.outcomes, this.open, clock, random);
    metrics.gauge(
      "bulwark_webhook_breakers_open",
      "Endpoints whose circuit breaker this process last saw open (HOOK-5).",
      () => this.open.size,
    );
    metrics.gauge(
      "bulwark_webhook_inflight",
      "Webhook deliveries being sent by this process.",
      () => this.running,
    );
  }

  /** Starts the polling loop (idempotent: `bulwark worker` starts it whatever WEBHOOK_WORKER says). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.timer = setInterval(() => this.wake(), this.settings.pollMs ?? 1000);
    this.timer.unref();
    this.wake();
  }

  /** Stops claiming; waits for deliveries in flight (at most one timeout) so none is left half-done (OPS-3). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.claimSoon);
    clearImmediate(this.lookSoon);
    await this.ticking;
    await Promise.allSettled([...this.work]);
  }

  /**
   * Looks at the queue once the event loop has run what is ready: after a write was answered. Writes
   * answered in the same turn then share one look (one fan-out transaction and one claim) instead of
   * each paying for its own, which cost a busy server more than the writes' own statements.
   */
  wakeSoon(): void {
    if (this.stopped) return;
    this.lookSoon ??= setImmediate(() => {
      this.lookSoon = undefined;
      this.wake();
    });
  }

  /**
   * Looks at the queue now: after a commit that may have written messages, or on the timer (`fanOut`),
   * or because slots freed up (claiming only).
   */
  wake(fanOut = true): void {
    if (this.stopped) return;
    this.fanOutNext ||= fanOut;
    if (this.ticking) {
      this.again = true;
      return;
    }
    const fan = this.fanOutNext;
    this.fanOutNext = false;
    this.ticking = this.tick(fan)
      .catch((err: Error) => this.log.warn({ reason: err.message }, "webhook dispatch failed; retrying"))
      .finally(() => {
        this.ticking = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          this.wake(false);
        }
      });
  }

  /**
   * Claims again for the free slots: at once when half of them are free (or all: a quiet process answers
   * a new delivery without delay), else after CLAIM_BATCH_WAIT_MS, so slots freed meanwhile share one
   * claim. Claims never overlap either way.
   */
  private slotFreed(): void {
    if ((this.settings.concurrency - this.running) * 2 >= this.settings.concurrency) {
      clearTimeout(this.claimSoon);
      this.claimSoon = undefined;
      this.wake(false);
      return;
    }
    this.claimSoon ??= setTimeout(() => {
      this.claimSoon = undefined;
      this.wake(false);
    }, CLAIM_BATCH_WAIT_MS);
  }

  /** One round: fan out new messages, then claim what there is room for and start sending it. */
  async tick(fanOut = true): Promise<void> {
    // A failed fan-out (one organisation's) must not stop deliveries already queued for every other one.
    if (fanOut)
      await this.fanOut().catch((err: Error) =>
        this.log.error({ reason: err.message }, "webhook fan-out failed; deliveries continue"),
      );
    const room = this.settings.concurrency - this.running;
    if (room <= 0) return;
    const per = this.settings.endpointConcurrency;
    const now = this.clock();
    // One token per claim: a settle only counts for the claim it belongs to, not a later one of this node.
    const token = `${this.node}:${randomBytes(6).toString("hex")}`;
    const claimed = await this.store.claim(
      this.db.global,
      now,
      now + this.settings.timeoutMs + LEASE_MARGIN_MS,
      token,
      room,
      per,
      this.inflight,
    );
    // What the batch needs, read once per organisation (not two queries per delivery).
    const seen = new Map<
      string,
      { endpoints: Map<string, WebhookEndpointRow>; bodies: Map<string, string> }
    >();
    for (const orgId of new Set(claimed.map((d) => d.org_id))) {
      const ids = claimed.filter((d) => d.org_id === orgId).map((d) => d.message_id);
      seen.set(
        orgId,
        await this.db.readOrg(orgId, async (tx) => ({
          endpoints: new Map((await this.store.endpoints(tx, orgId)).map((e) => [e.id, e])),
          bodies: await this.store.bodies(tx, orgId, ids),
        })),
      );
    }
    for (const d of claimed) {
      // An endpoint this process already sends to gets only what is left of its share; the rest waits.
      if ((this.inflight.get(d.endpoint_id) ?? 0) >= per) {
        await this.store.settle(this.db.global, d.id, token, {
          status: "pending",
          attempts: d.attempts - 1,
          updated_at: now,
        });
        continue;
      }
      this.running++;
      this.inflight.set(d.endpoint_id, (this.inflight.get(d.endpoint_id) ?? 0) + 1);
      const org = seen.get(d.org_id);
      const job = this.deliver(d, token, org?.endpoints.get(d.endpoint_id), org?.bodies.get(d.message_id))
        .catch((err: Error) => this.failed(d, token, err))
        .finally(() => {
          this.running--;
          const left = (this.inflight.get(d.endpoint_id) ?? 1) - 1;
          if (left > 0) this.inflight.set(d.endpoint_id, left);
          else this.inflight.delete(d.endpoint_id);
          this.work.delete(job);
          this.slotFreed();
        });
      this.work.add(job);
    }
    // A full batch: there may be more due right away.
    if (claimed.length === room) this.again = true;
  }

  /**
   * A delivery that could not be prepared or settled (a secret that no longer opens, an attempt the
   * database refused): settled without an attempt row, retried on the schedule like a failed attempt,
   * so it never stays claimed, and never loops past its retries.
   */
  private async failed(d: WebhookDeliveryRow, token: string, err: Error): Promise<void> {
    this.log.error(
      { delivery: d.id, org: d.org_id, reason: err.message },
      "webhook delivery failed inside Bulwark",
    );
    const now = this.clock();
    const wait = this.settings.retryScheduleMs[d.attempts - 1];
    await this.store
      .settle(this.db.global, d.id, token, {
        status: wait === undefined ? "dead" : "pending",
        next_at: wait === undefined ? now : now + this.settler.jittered(wait, undefined),
        last_error: `not sent: ${err.message}`.slice(0, 300),
        updated_at: now,
      })
      .catch((e: Error) =>
        this.log.error({ delivery: d.id, reason: e.message }, "webhook delivery not settled"),
      );
  }

  /** Runs rounds until nothing is pending or in flight, whether or not started (tests and benchmarks). */
  async drain(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      await this.ticking;
      await this.tick();
      await Promise.allSettled([...this.work]);
      const pending = await this.store.pendingCount(this.db.global);
      if (
        pending === 0 &&
        this.work.size === 0 &&
        (await this.store.pendingOrgs(this.db.global, 1)).length === 0
      )
        return;
      if (Date.now() > until) throw new Error(`webhooks: ${pending} deliveries still pending`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Messages → deliveries, one transaction per organisation (its endpoints are read in its scope). */
  async fanOut(): Promise<void> {
    for (const orgId of await this.store.pendingOrgs(this.db.global, 50))
      await this.fanOutOrg(orgId).catch((err: Error) =>
        this.log.error({ org: orgId, reason: err.message }, "webhook fan-out failed for an organisation"),
      );
  }

  private async fanOutOrg(orgId: string): Promise<void> {
    await this.db.withOrg(orgId, async (tx) => {
      const messages = await this.store.takePending(tx, orgId, FAN_OUT_BATCH);
      if (messages.length === 0) return;
      // A full batch: more are waiting; the next round fans out again rather than waiting for the timer.
      if (messages.length === FAN_OUT_BATCH) {
        this.fanOutNext = true;
        this.again = true;
      }
      const endpoints = (await this.store.endpoints(tx, orgId)).filter((e) => e.enabled === 1);
      const now = this.clock();
      const rows: WebhookDeliveryRow[] = [];
      // An endpoint receives the events raised after it was created, not older ones still queued.
      for (const m of messages)
        for (const e of endpoints)
          if (m.endpoint_id ? m.endpoint_id === e.id : e.created_at <= m.created_at && wants(e, m.type))
            rows.push({
              id: newId("whd", now),
              org_id: orgId,
              message_id: m.id,
              endpoint_id: e.id,
              status: "pending",
              attempts: 0,
              next_at: now,
              lease_until: null,
              claimed_by: null,
              last_status: null,
              last_error: null,
              created_at: now,
              updated_at: now,
            });
      await this.store.insertDeliveries(tx, rows);
      await this.store.markFannedOut(
        tx,
        messages.map((m) => m.id),
      );
    });
  }

  /** One claimed delivery: the endpoint's state decides whether it is sent now, later, or not at all. */
  private async deliver(
    d: WebhookDeliveryRow,
    token: string,
    seenEndpoint: WebhookEndpointRow | undefined,
    seenBody: string | undefined,
  ): Promise<void> {
    const now = this.clock();
    // The common case, as read for the batch: an enabled endpoint whose breaker is closed.
    const prepared =
      seenEndpoint?.enabled === 1 && seenEndpoint.breaker === "closed" && seenBody !== undefined
        ? { endpoint: seenEndpoint, body: seenBody, secrets: this.service.secrets(seenEndpoint, now) }
        : await this.prepareLocked(d, token, now);
    if (!prepared) return;
    const { endpoint, body, secrets } = prepared;
    const headers = signedHeaders(
      secrets,
      d.message_id,
      Math.floor(this.clock() / 1000),
      body,
      endpoint.legacy_signature === 1,
    );
    const outcome = await this.sender.send(endpoint.url, headers, body);
    await this.settler.settle(d, token, endpoint, outcome);
  }

  /**
   * A delivery to an endpoint that is gone, disabled or behind its breaker: decided with the endpoint
   * locked, so concurrent deliveries to it send one probe between them.
   */
  private async prepareLocked(d: WebhookDeliveryRow, token: string, now: number) {
    return this.db.withOrg(d.org_id, async (tx) => {
      const endpoint = await this.store.endpoint(tx, d.org_id, d.endpoint_id, true);
      const message = await this.store.message(tx, d.org_id, d.message_id);
      if (!endpoint || !message || endpoint.enabled !== 1) {
        const why = !endpoint ? "the endpoint was deleted" : "the endpoint is disabled";
        await this.store.settle(tx, d.id, token, { status: "dead", last_error: why, updated_at: now });
        this.outcomes.inc(["dead"]);
        return undefined;
      }
      // HOOK-5: an open breaker holds deliveries until its cooldown ends; then one probe goes out.
      if (endpoint.breaker !== "closed") {
        this.open.add(endpoint.id);
        const until = endpoint.breaker_until ?? now;
        if (endpoint.breaker === "open" && now < until) {
          await this.store.settle(tx, d.id, token, {
            status: "pending",
            attempts: d.attempts - 1,
            next_at: until,
            updated_at: now,
          });
          return undefined;
        }
        if (endpoint.breaker === "half_open" && now < until) {
          await this.store.settle(tx, d.id, token, {
            status: "pending",
            attempts: d.attempts - 1,
            next_at: now + PROBE_WAIT_MS,
            updated_at: now,
          });
          return undefined;
        }
        // This delivery is the probe; the others wait for its answer (or its timeout).
        await this.store.updateEndpoint(tx, d.org_id, endpoint.id, {
          breaker: "half_open",
          breaker_until: now + this.settings.timeoutMs + PROBE_WAIT_MS,
        });
      }
      return { endpoint, body: message.body, secrets: this.service.secrets(endpoint, now) };
    });
  }
}

/** Whether an endpoint's filter takes `type` (an empty filter takes every type). */
function wants(e: WebhookEndpointRow, type: string): boolean {
  const types = JSON.parse(e.event_types) as string[];
  return types.length === 0 || types.includes(type);
}
