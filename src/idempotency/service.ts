import { createHash } from "node:crypto";
import type { Database } from "../db/database.js";
import { AppError } from "../http/errors.js";
import type { IdempotencyStore } from "./store.js";
import type { IdempotencyKeyRow } from "./tables.js";

/**
 * A claim whose request has not answered after this long is taken to be abandoned (its process died):
 * longer than any request runs, so a slow first request is never run a second time beside itself.
 */
export const ABANDONED_MS = 5 * 60_000;
/** A first answer larger than this is not kept: the claim is released, so a retry runs again. */
export const MAX_STORED_BYTES = 256 * 1024;

/**
 * `Idempotency-Key` as draft-ietf-httpapi-idempotency-key-header-07 defines it: an sf-string (RFC 8941
 * 3.3.3), so `"…"` with printable ASCII inside, `\"` and `\\` escaped. Returns the key, or undefined
 * when the header is not one.
 */
export function parseKey(header: string): string | undefined {
  const m = /^"((?:[\x20\x21\x23-\x5B\x5D-\x7E]|\\["\\]){1,255})"$/.exec(header.trim());
  return m ? m[1]!.replace(/\\(["\\])/g, "$1") : undefined;
}

/** What a request with a key gets: go ahead (it holds the claim), or the first request's answer. */
export type Decision =
  | { readonly run: true; readonly claim: IdempotencyKeyRow }
  | {
      readonly run: false;
      readonly status: number;
      readonly body: string;
      readonly contentType: string | null;
    };

/**
 * Idempotency keys (IDEM-1): the first request with a key claims it atomically in the database (so two
 * nodes never both run it) with a fingerprint of its body; its answer is stored and replayed to retries
 * until the key expires. Another body with the same key: 422. A retry while the first is in flight: 409.
 * A 5xx answer releases the claim, so the retry runs again.
 */
export class IdempotencyService {
  constructor(
    private readonly db: Database,
    private readonly store: IdempotencyStore,
    readonly ttlMs: number,
    private readonly clock: () => number = () => Date.now(),
  ) {}

  async begin(
    orgId: string,
    principal: string,
    route: string,
    key: string,
    /** What the request asks: its path parameters, query and body (another of any is another request). */
    request: { params: unknown; query: unknown; body: unknown },
  ): Promise<Decision> {
    const now = this.clock();
    const claim: IdempotencyKeyRow = {
      org_id: orgId,
      principal,
      route,
      key_hash: sha256(key),
      fingerprint: sha256(
        JSON.stringify([request.params ?? null, request.query ?? null, request.body ?? null]),
      ),
      state: "in_flight",
      status: null,
      body: null,
      content_type: null,
      created_at: now,
      expires_at: now + this.ttlMs,
    };
    return this.db.withOrg(orgId, async (tx) => {
      await this.store.purge(tx, orgId, now);
      if (await this.store.claim(tx, claim)) return { run: true, claim };
      const found = await this.store.find(tx, claim);
      if (!found)
        throw new AppError("CONFLICT", "This Idempotency-Key is being claimed by another request; retry.");
      const stale =
        found.expires_at <= now || (found.state === "in_flight" && now - found.created_at >= ABANDONED_MS);
      if (stale) {
        if (await this.store.reclaim(tx, claim, found)) return { run: true, claim };
        throw new AppError("CONFLICT", "This Idempotency-Key is being claimed by another request; retry.");
      }
      if (found.fingerprint !== claim.fingerprint)
        throw new AppError(
          "UNPROCESSABLE",
          "This Idempotency-Key was used with another request body; use a new key for a new request.",
        );
      if (found.state === "in_flight")
        throw new AppError(
          "CONFLICT",
          "A request with this Idempotency-Key is still being processed; retry once it has answered.",
        );
      return {
        run: false,
        status: found.status ?? 200,
        body: found.body ?? "",
        contentType: found.content_type,
      };
    });
  }

  /** Stores the first request's answer, or releases the claim after a 5xx (the retry will run again). */
  async finish(
    claim: IdempotencyKeyRow,
    status: number,
    body: string,
    contentType: string | null,
  ): Promise<void> {
    await this.db.withOrg(claim.org_id, (tx) =>
      status >= 500 || Buffer.byteLength(body) > MAX_STORED_BYTES
        ? this.store.release(tx, claim)
        : this.store.complete(tx, claim, { status, body, content_type: contentType }),
    );
  }
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
