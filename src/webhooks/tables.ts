import type { SealedField } from "../crypto/seal.js";
/**
 * An organisation's webhook endpoint (HOOK-1). A tenant table: only its organisation's scope reads it.
 * Secrets are sealed (AES-256-GCM, bound to the row): a database dump alone cannot sign a delivery.
 */
export interface WebhookEndpointRow {
  id: string;
  org_id: string;
  url: string;
  description: string;
  /** JSON array of event types; empty: every type. */
  event_types: string;
  /** 1: deliveries are made; 0: paused (by hand, or by a 410 Gone). */
  enabled: number;
  /** Why it is disabled: `manual` or `gone` (the receiver answered 410); null while enabled. */
  disabled_reason: string | null;
  /** The sealed `whsec_…` secret that signs every delivery. */
  secret: string;
  /** The sealed previous secret, also signing until `previous_until` (HOOK-2). */
  previous_secret: string | null;
  previous_until: number | null;
  /** 1: also send the legacy X-Webhook-Signature / X-Webhook-Timestamp pair. */
  legacy_signature: number;
  /** Consecutive failed attempts (HOOK-5). */
  failures: number;
  /** `closed` (deliveries flow), `open` (paused until `breaker_until`), `half_open` (one probe out). */
  breaker: string;
  breaker_until: number | null;
  created_at: number;
  updated_at: number;
}

/**
 * The outbox (HOOK-6): one row per event, written in the transaction of the change it describes, turned
 * into one delivery per matching endpoint by the dispatcher. Its id is the `webhook-id` receivers see.
 * Exempt from the tenant scope (the dispatcher reads every organisation's); every route names its org.
 */
export interface WebhookMessageRow {
  id: string;
  org_id: string;
  type: string;
  /** The JSON body every delivery of this message sends, byte for byte. */
  body: string;
  /** A test event for one endpoint; null: every endpoint whose filter matches. */
  endpoint_id: string | null;
  /** 1 once its deliveries exist. */
  fanned_out: number;
  created_at: number;
}

/** One message to one endpoint, with its retry state (HOOK-3). Exempt like the outbox: the queue. */
export interface WebhookDeliveryRow {
  id: string;
  org_id: string;
  message_id: string;
  endpoint_id: string;
  /** `pending` (due at next_at), `sending` (claimed until lease_until), `succeeded`, `dead`. */
  status: string;
  /** Attempts since it was created or replayed. */
  attempts: number;
  next_at: number;
  lease_until: number | null;
  /** Which worker holds the claim (host:pid). */
  claimed_by: string | null;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

/** Every attempt of a delivery (HOOK-3): a tenant table, read through its organisation's scope. */
export interface WebhookAttemptRow {
  id: string;
  org_id: string;
  delivery_id: string;
  endpoint_id: string;
  at: number;
  duration_ms: number;
  /** The HTTP status, or null when none came (network error, timeout, refused address). */
  status: number | null;
  /** The response body's first few KB, as text. */
  response: string | null;
  error: string | null;
}

declare module "../db/tables.js" {
  interface Tables {
    webhook_endpoints: WebhookEndpointRow;
    webhook_messages: WebhookMessageRow;
    webhook_deliveries: WebhookDeliveryRow;
    webhook_attempts: WebhookAttemptRow;
  }
}

/** An endpoint's signing secrets, sealed at rest (DATA-1). */
export const SECRET: SealedField = {
  table: "webhook_endpoints",
  column: "secret",
  rowKey: "id",
  tenant: true,
};
export const PREVIOUS_SECRET: SealedField = {
  table: "webhook_endpoints",
  column: "previous_secret",
  rowKey: "id",
  tenant: true,
};
