/**
 * A claimed `Idempotency-Key` (IDEM-1): the first request's fingerprint and, once it finished, its
 * response, replayed to every retry until the key expires. A tenant table (row-level security).
 */
export interface IdempotencyKeyRow {
  org_id: string;
  /** Who sent it: the principal's kind and id (another principal's key is another key). */
  principal: string;
  /** `METHOD /route/template`. */
  route: string;
  /** SHA-256 of the key as sent (keys may carry anything a client chose; only their hash is kept). */
  key_hash: string;
  /** SHA-256 of the request body (its JSON as parsed, re-serialised). */
  fingerprint: string;
  /** `in_flight` until the first request answered, then `done`. */
  state: string;
  status: number | null;
  /** The first response's body and content type, as sent. */
  body: string | null;
  content_type: string | null;
  created_at: number;
  expires_at: number;
}

declare module "../db/tables.js" {
  interface Tables {
    idempotency_keys: IdempotencyKeyRow;
  }
}
