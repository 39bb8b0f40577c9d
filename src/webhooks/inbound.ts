import { createHmac, timingSafeEqual } from "node:crypto";
import type { Kysely, Migration } from "kysely";
import { sql } from "kysely";
import type { Database, Db } from "../db/database.js";
import { grantApp, type MigrationContext } from "../db/migrations.js";
import { secretKey } from "./signing.js";

/**
 * Inbound webhooks (HOOK-8): a provider's request verified, then its side effect run exactly once per
 * event id, even when the provider delivers it twice at the same moment. For an app's own routes:
 *
 *   const event = verifyStripe(process.env.STRIPE_WEBHOOK_SECRET, req.headers["stripe-signature"], rawBody);
 *   await receiveOnce(db, "stripe", event.id, (tx) => markInvoicePaid(tx, event), { orgId });
 */

/** A signature that does not verify, or is too old or malformed: answer 400 and do nothing. */
export class InboundSignatureError extends Error {
  override readonly name = "InboundSignatureError";
}

/** How far a signed timestamp may be from now (both providers' libraries default to 5 minutes). */
export const TOLERANCE_SECONDS = 300;

const equal = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

function fresh(timestamp: number, now: number, tolerance: number): void {
  if (!Number.isInteger(timestamp) || Math.abs(now / 1000 - timestamp) > tolerance)
    throw new InboundSignatureError("the signed timestamp is missing or outside the tolerance");
}

/**
 * Verifies a Standard Webhooks 1.0 request (`webhook-id`, `webhook-timestamp`, `webhook-signature` with
 * one or more `v1,` signatures) against a `whsec_` secret, in constant time; returns the message id.
 */
export function verifyStandardWebhook(
  secret: string,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  body: string,
  now = Date.now(),
  tolerance = TOLERANCE_SECONDS,
): string {
  const one = (name: string) => {
    const v = headers[name];
    return typeof v === "string" ? v : undefined;
  };
  const id = one("webhook-id");
  const ts = one("webhook-timestamp");
  const signatures = one("webhook-signature");
  if (!id || !ts || !signatures)
    throw new InboundSignatureError("missing webhook-id, -timestamp or -signature");
  fresh(Number(ts), now, tolerance);
  const expected = createHmac("sha256", secretKey(secret))
    .update(`${id}.${ts}.`)
    .update(body)
    .digest("base64");
  const ok = signatures.split(" ").some((s) => s.startsWith("v1,") && equal(s.slice(3), expected));
  if (!ok) throw new InboundSignatureError("no signature matches");
  return id;
}

/**
 * Verifies Stripe's `Stripe-Signature: t=<seconds>,v1=<hex>[,v1=…]` (HMAC-SHA256 of `t.body` keyed with
 * the endpoint's whole `whsec_…` string, as Stripe signs), in constant time; returns the parsed event.
 */
export function verifyStripe(
  secret: string,
  header: string | string[] | undefined,
  body: string,
  now = Date.now(),
  tolerance = TOLERANCE_SECONDS,
): { id: string; type: string; [k: string]: unknown } {
  // An empty or mistyped secret would make an HMAC anyone can compute: refuse it rather than verify.
  if (!/^whsec_[A-Za-z0-9+/=_-]{16,}$/.test(secret))
    throw new Error("verifyStripe: the secret must be the endpoint's whsec_… signing secret");
  if (typeof header !== "string") throw new InboundSignatureError("missing Stripe-Signature");
  const parts = header.split(",").map((p) => p.split("=", 2) as [string, string | undefined]);
  const t = Number(parts.find(([k]) => k === "t")?.[1]);
  fresh(t, now, tolerance);
  const expected = createHmac("sha256", secret).update(`${t}.`).update(body).digest("hex");
  if (!parts.some(([k, v]) => k === "v1" && v !== undefined && equal(v, expected)))
    throw new InboundSignatureError("no signature matches");
  let event: { id?: unknown; type?: unknown };
  try {
    event = JSON.parse(body);
  } catch {
    throw new InboundSignatureError("the body is not JSON");
  }
  if (typeof event.id !== "string" || typeof event.type !== "string")
    throw new InboundSignatureError("the event has no id or type");
  return event as { id: string; type: string };
}

/**
 * Runs `effect` once per (provider, event id), in one transaction with the record that it ran: a
 * duplicate (sequential or concurrent: the second insert waits for the first transaction and then finds
 * the row) returns `{ duplicate: true }` without running it; an effect that throws records nothing, so
 * the provider's retry runs it again.
 */
export async function receiveOnce<T>(
  db: Database,
  provider: string,
  eventId: string,
  effect: (tx: Db) => Promise<T>,
  /** The organisation whose data the effect changes: the effect then runs in its scope (`withOrg`). */
  options: { orgId?: string } = {},
): Promise<{ duplicate: true } | { duplicate: false; result: T }> {
  const inTx = (fn: (tx: Db) => Promise<{ duplicate: true } | { duplicate: false; result: T }>) =>
    options.orgId ? db.withOrg(options.orgId, fn) : db.global.transaction().execute(fn);
  return inTx(async (tx) => {
    const inserted =
      await sql`INSERT INTO inbound_events (provider, event_id, received_at) VALUES (${provider}, ${eventId}, ${Date.now()}) ON CONFLICT DO NOTHING`.execute(
        tx,
      );
    if (Number(inserted.numAffectedRows ?? 0) === 0) return { duplicate: true as const };
    return { duplicate: false as const, result: await effect(tx) };
  });
}

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed table map exists.
type AnyDb = Kysely<any>;

/** The record of inbound events already handled (HOOK-8): a global table, one row per provider event. */
export function inboundMigrations(ctx: MigrationContext): Record<string, Migration> {
  return {
    "0016_inbound_events": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("inbound_events")
          .addColumn("provider", "text", (c) => c.notNull())
          .addColumn("event_id", "text", (c) => c.notNull())
          .addColumn("received_at", "bigint", (c) => c.notNull())
          .addPrimaryKeyConstraint("inbound_events_pk", ["provider", "event_id"])
          .execute();
        await grantApp(db, ctx, "inbound_events", ["SELECT", "INSERT"]);
      },
    },
  };
}
