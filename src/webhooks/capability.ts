import type { Capability } from "../capability.js";
import { Sealer } from "../crypto/seal.js";
import type { PersonalData } from "../privacy/personal.js";
import { DeliveryService } from "./deliveries.js";
import { WebhookDispatcher } from "./dispatcher.js";
import { inboundMigrations } from "./inbound.js";
import { webhookMigrations } from "./migrations.js";
import { webhookRoutes } from "./plugin.js";
import { DeliveryLogRetention } from "./retention.js";
import { WebhookSender } from "./sender.js";
import { WebhookService } from "./service.js";
import { type Resolver, TargetPolicy } from "./ssrf.js";
import { WebhookStore } from "./store.js";
import { PREVIOUS_SECRET, SECRET } from "./tables.js";

declare module "../context.js" {
  interface Services {
    webhooks: WebhookService;
    webhookDispatcher: WebhookDispatcher;
  }
}

export interface WebhookOptions {
  /** Resolves endpoint hosts (tests answer for names no DNS knows); the system resolver by default. */
  readonly resolve?: Resolver;
  /** The dispatcher's clock and jitter (tests freeze them). */
  readonly clock?: () => number;
  readonly random?: () => number;
}

/**
 * Outbound webhooks (HOOK-1…HOOK-7): endpoints per organisation, the outbox fed by every organisation
 * data event in its transaction, and the dispatcher, which runs in this process unless WEBHOOK_WORKER is
 * off (then `bulwark worker` processes deliver).
 */
export function webhooksCapability(options: WebhookOptions = {}): Capability {
  return {
    name: "webhooks",
    // An organisation's events about a member name them in the body sent to its endpoints.
    personalData: [
      { table: "webhook_messages", column: "body", match: "mentions", json: ["body"], erase: "pseudonymise" },
    ] satisfies PersonalData[],
    sealedFields: [SECRET, PREVIOUS_SECRET],
    migrations: (ctx) => ({ ...webhookMigrations(ctx), ...inboundMigrations(ctx) }),
    async register(app, ctx) {
      const settings = ctx.config.webhooks;
      const clock = options.clock ?? (() => Date.now());
      const policy = new TargetPolicy(settings.allowlist, settings.allowHttp, options.resolve);
      const store = new WebhookStore(ctx.db.engine);
      const audit = ctx.service("audit");
      const hooks = new WebhookService(
        ctx.db,
        store,
        new Sealer(ctx.config.dataKeys),
        policy,
        audit,
        { secretGraceMs: settings.secretGraceMs },
        clock,
      );
      const sender = new WebhookSender(policy, settings.timeoutMs, settings.concurrency);
      const dispatcher = new WebhookDispatcher(
        ctx.db,
        store,
        hooks,
        sender,
        { ...settings, pollMs: 500 },
        ctx.log,
        ctx.metrics,
        clock,
        options.random,
      );
      ctx.provide("webhooks", hooks);
      ctx.provide("webhookDispatcher", dispatcher);
      // HOOK-6: every organisation data event also enters the outbox, in its change's transaction.
      audit.tap((tx, events) => hooks.enqueueEvents(tx, events));
      // A response goes out after its transaction committed: a good moment to look at the outbox.
      app.addHook("onResponse", (request, _reply, done) => {
        if (request.method !== "GET" && request.method !== "HEAD") dispatcher.wakeSoon();
        done();
      });
      await app.register(webhookRoutes, {
        hooks,
        deliveries: new DeliveryService(ctx.db, store, audit, clock),
      });
      // Not in a process that serves HTTP only (`bulwark start --no-worker`): its workers deliver.
      const logs = new DeliveryLogRetention(ctx.db, ctx.config.retention.deliveriesDays, clock);
      ctx.service("jobs").schedule("webhooks.retention", { everyMs: 86_400_000 }, () => logs.purge());
      if (settings.worker && ctx.service("jobs").background)
        app.addHook("onReady", async () => dispatcher.start());
      app.addHook("onClose", async () => {
        await dispatcher.stop();
        await sender.close();
      });

      const schedule = settings.retryScheduleMs.map(human).join(", ");
      ctx.posture.register({
        id: "HOOK-1",
        title: "Signed webhooks (Standard Webhooks 1.0)",
        claim:
          "Each organisation's endpoints receive its data events (organisation, members, invitations, API keys, and the app's own) signed per Standard Webhooks 1.0: webhook-id, webhook-timestamp and an HMAC-SHA256 signature of id.timestamp.body, so any Standard Webhooks library verifies them. Secrets are 256-bit, shown once, stored sealed with AES-256-GCM and never logged.",
        settings: { secretBits: 256 },
        enabled: true,
      });
      ctx.posture.register({
        id: "HOOK-2",
        title: "Secret rotation with a grace period",
        claim: `After a rotation the new secret signs at once and the previous one keeps signing beside it for ${settings.secretGraceMs / 86_400_000} days, so receivers can switch without missing a delivery.`,
        settings: { graceDays: settings.secretGraceMs / 86_400_000 },
        enabled: true,
      });
      ctx.posture.register({
        id: "HOOK-3",
        title: "Retries, every attempt recorded, replay",
        claim: `A delivery that fails on the network, with a 5xx or a 429 is retried after ${schedule} (±10 % jitter, never sooner than the receiver's Retry-After); any other 4xx is final. Every attempt is stored with its status, duration, error and the first 4 KB of the answer; a finished delivery can be replayed with the same webhook-id.`,
        settings: { retrySchedule: schedule },
        enabled: true,
      });
      ctx.posture.register({
        id: "HOOK-4",
        title: "Timeouts and isolation between endpoints",
        claim: `An attempt ends after ${settings.timeoutMs / 1000} s. Each process sends at most ${settings.concurrency} deliveries at once and at most ${settings.endpointConcurrency} to one endpoint, so a slow receiver never holds up the others.`,
        settings: {
          timeoutSeconds: settings.timeoutMs / 1000,
          concurrency: settings.concurrency,
          perEndpoint: settings.endpointConcurrency,
        },
        enabled: true,
      });
      ctx.posture.register({
        id: "HOOK-5",
        title: "Circuit breaker and dead letters",
        claim: `After ${settings.breakerFailures} consecutive failures an endpoint's breaker opens: its deliveries wait ${human(settings.breakerCooldownMs)}, then one probe goes out, and a success closes it. An endpoint answering 410 Gone is disabled until re-enabled by hand. A delivery that used up its retries is dead-lettered, listed and replayable.`,
        settings: {
          breakerFailures: settings.breakerFailures,
          cooldownSeconds: settings.breakerCooldownMs / 1000,
        },
        enabled: true,
      });
      ctx.posture.register({
        id: "HOOK-6",
        title: "Transactional outbox",
        claim:
          "An event is written to the outbox in the same database transaction as the change it describes: a change that rolls back sends nothing, and a committed change is delivered at least once with a stable webhook-id, even when the worker dies mid-delivery.",
        // Whether this process delivers is per process (WEBHOOK_WORKER=off on API nodes): not part of the
        // deployment's posture (POST-4), which must read the same on every node.
        enabled: true,
      });
      ctx.posture.register({
        id: "HOOK-7",
        title: "No webhooks to internal addresses",
        claim: `Endpoint URLs must be https${settings.allowHttp ? " (http is allowed outside production)" : ""} and resolve only to public addresses: loopback, private, link-local and cloud metadata, carrier-grade NAT, multicast, unique-local and IPv4-mapped forms of these are refused at creation and again when each connection opens, which connects to the address checked (no DNS rebinding). Redirects are not followed.${policy.hasExceptions ? " An allowlist set by the operator opens exceptions." : ""}`,
        settings: { exceptions: policy.hasExceptions, httpAllowed: settings.allowHttp },
        enabled: true,
      });
      ctx.posture.register({
        id: "HOOK-8",
        title: "Inbound webhooks verified and deduplicated",
        claim:
          "Webhooks the app receives from providers go through Bulwark's helpers: Standard Webhooks and Stripe signatures are verified, with a 5-minute timestamp tolerance, and each event's side effect runs once per event id, recorded in the same database transaction, even when the provider delivers it twice at once.",
        settings: { toleranceSeconds: 300, schemes: "standard-webhooks, stripe" },
        enabled: true,
      });
    },
  };
}

/** 5000 → "5 s", 300000 → "5 min", 7200000 → "2 h". */
function human(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${ms / 1000} s`;
}
