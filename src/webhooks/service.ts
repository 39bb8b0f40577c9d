import type { AuditEvent } from "../audit/entry.js";
import type { AuditService } from "../audit/service.js";
import type { SealedField, Sealer } from "../crypto/seal.js";
import type { Database, Db } from "../db/database.js";
import { AppError } from "../http/errors.js";
import { redactDeep } from "../log/redact.js";
import type { Stamp } from "../orgs/stamp.js";
import { newId } from "../util/ids.js";
import { newWebhookSecret, type SigningSecrets } from "./signing.js";
import { type TargetPolicy, UnsafeTarget } from "./ssrf.js";
import type { WebhookStore } from "./store.js";
import type { WebhookEndpointRow, WebhookMessageRow } from "./tables.js";
import { PREVIOUS_SECRET, SECRET } from "./tables.js";

export interface WebhookSettings {
  readonly secretGraceMs: number;
}

export interface EndpointInput {
  readonly url: string;
  readonly description?: string | undefined;
  readonly eventTypes?: readonly string[] | undefined;
  readonly enabled?: boolean | undefined;
  readonly legacySignature?: boolean | undefined;
}

/**
 * Domain events that are never sent out: sign-ins, sessions, second factors, passwords, impersonation,
 * permission denials, the audit log's own and webhook management. They describe people's security, not
 * the organisation's data; the audit log keeps them.
 */
const INTERNAL = /^(auth|admin|session|mfa|user|impersonation|permission|audit|http|webhook)\./;

/** Entities whose events only Bulwark raises. */
const RESERVED =
  /^(org|member|invitation|apikey|auth|admin|session|mfa|user|impersonation|permission|audit|http|webhook)\./;

/** Whether a domain event goes out as a webhook (HOOK-1): its organisation's data changing. */
export const isWebhookEvent = (e: AuditEvent): boolean => e.orgId !== undefined && !INTERNAL.test(e.action);

/** Endpoints per organisation: each message becomes one delivery per endpoint. */
export const MAX_ENDPOINTS = 50;

/** The type a test delivery carries ("send test event"). */
export const TEST_EVENT = "webhook.test";

/**
 * Webhook rules (HOOK-1…HOOK-7): endpoints with sealed secrets checked against the target policy,
 * rotation with a grace period, the outbox written in the caller's transaction, deliveries and replay.
 * Endpoint changes are audit events in their own transaction (AUDIT-2).
 */
export class WebhookService {
  private readonly opened = new Map<string, string>();
  constructor(
    private readonly db: Database,
    private readonly store: WebhookStore,
    private readonly sealer: Sealer,
    readonly policy: TargetPolicy,
    private readonly audit: AuditService,
    readonly settings: WebhookSettings,
    private readonly clock: () => number = () => Date.now(),
  ) {}

  /**
   * Writes messages to the outbox in `tx`, the transaction of the change they describe (HOOK-6): they
   * commit or roll back with it, and the dispatcher delivers each committed one at least once.
   */
  async enqueue(
    tx: Db,
    orgId: string,
    items: readonly { type: string; data: unknown; endpointId?: string }[],
  ): Promise<WebhookMessageRow[]> {
    const now = this.clock();
    const rows = items.map(
      (item): WebhookMessageRow => ({
        id: newId("msg", now),
        org_id: orgId,
        type: item.type,
        body: JSON.stringify({ type: item.type, timestamp: new Date(now).toISOString(), data: item.data }),
        endpoint_id: item.endpointId ?? null,
        fanned_out: 0,
        created_at: now,
      }),
    );
    await this.store.insertMessages(tx, rows);
    return rows;
  }

  /**
   * An app's own event (`POST …/webhook-messages`), durable on return. Its type may not be one of
   * Bulwark's own (an app cannot make a receiver believe a member was removed).
   */
  async publish(orgId: string, type: string, data: unknown): Promise<string> {
    if (RESERVED.test(type))
      throw new AppError(
        "UNPROCESSABLE",
        `Event types under ${type.split(".")[0]}. are Bulwark's own; name yours after your own entities.`,
      );
    const [msg] = await this.db.withOrg(orgId, (tx) => this.enqueue(tx, orgId, [{ type, data }]));
    return msg!.id;
  }

  /** The outbox side of domain events (the audit log's tap): the organisation's data events only. */
  async enqueueEvents(tx: Db, events: readonly AuditEvent[]): Promise<void> {
    const out = events.filter(isWebhookEvent);
    for (const orgId of new Set(out.map((e) => e.orgId!)))
      await this.enqueue(
        tx,
        orgId,
        out
          .filter((e) => e.orgId === orgId)
          .map((e) => ({
            type: e.action,
            data: redactDeep({
              actor: { type: e.actor.type, id: e.actor.id },
              entity: e.entity ?? null,
              before: e.before ?? null,
              after: e.after ?? null,
            }),
          })),
      );
  }

  async list(orgId: string): Promise<WebhookEndpointRow[]> {
    return this.db.readOrg(orgId, (tx) => this.store.endpoints(tx, orgId));
  }

  async get(orgId: string, id: string): Promise<WebhookEndpointRow> {
    const row = await this.db.readOrg(orgId, (tx) => this.store.endpoint(tx, orgId, id));
    if (!row) throw new AppError("NOT_FOUND");
    return row;
  }

  /** Creates an endpoint after checking its URL (HOOK-7); returns it with its secret, shown this once. */
  async create(
    orgId: string,
    input: EndpointInput,
    by: Stamp,
  ): Promise<{ row: WebhookEndpointRow; secret: string }> {
    const url = await this.checkUrl(input.url);
    if ((await this.list(orgId)).length >= MAX_ENDPOINTS)
      throw new AppError("UNPROCESSABLE", `An organisation has at most ${MAX_ENDPOINTS} webhook endpoints.`);
    const now = this.clock();
    const id = newId("whe", now);
    const secret = newWebhookSecret();
    const row: WebhookEndpointRow = {
      id,
      org_id: orgId,
      url,
      description: input.description ?? "",
      event_types: JSON.stringify(input.eventTypes ?? []),
      enabled: input.enabled === false ? 0 : 1,
      disabled_reason: input.enabled === false ? "manual" : null,
      secret: this.sealer.seal(secret, SECRET, id),
      previous_secret: null,
      previous_until: null,
      legacy_signature: input.legacySignature ? 1 : 0,
      failures: 0,
      breaker: "closed",
      breaker_until: null,
      created_at: now,
      updated_at: now,
    };
    await this.db.withOrg(orgId, async (tx) => {
      await this.store.insertEndpoint(tx, row);
      await this.audit.record(
        tx,
        by({ action: "webhook.endpoint_created", orgId, entity: entity(id), after: facts(row) }),
      );
    });
    return { row, secret };
  }

  /** Changes an endpoint; enabling one closes its breaker and forgets its failures (HOOK-5). */
  async update(
    orgId: string,
    id: string,
    input: Partial<EndpointInput>,
    by: Stamp,
  ): Promise<WebhookEndpointRow> {
    const url = input.url === undefined ? undefined : await this.checkUrl(input.url);
    const now = this.clock();
    return this.db.withOrg(orgId, async (tx) => {
      const old = await this.store.endpoint(tx, orgId, id);
      if (!old) throw new AppError("NOT_FOUND");
      const set: Partial<WebhookEndpointRow> = { updated_at: now };
      if (url !== undefined) set.url = url;
      if (input.description !== undefined) set.description = input.description;
      if (input.eventTypes !== undefined) set.event_types = JSON.stringify(input.eventTypes);
      if (input.legacySignature !== undefined) set.legacy_signature = input.legacySignature ? 1 : 0;
      if (input.enabled === true && !old.enabled) {
        Object.assign(set, { enabled: 1, disabled_reason: null, failures: 0, breaker: "closed" });
        set.breaker_until = null;
      } else if (input.enabled === false && old.enabled)
        Object.assign(set, { enabled: 0, disabled_reason: "manual" });
      await this.store.updateEndpoint(tx, orgId, id, set);
      const row = { ...old, ...set };
      await this.audit.record(
        tx,
        by({
          action: "webhook.endpoint_updated",
          orgId,
          entity: entity(id),
          before: facts(old),
          after: facts(row),
        }),
      );
      return row;
    });
  }

  async remove(orgId: string, id: string, by: Stamp): Promise<void> {
    await this.db.withOrg(orgId, async (tx) => {
      const old = await this.store.endpoint(tx, orgId, id);
      if (!old || !(await this.store.deleteEndpoint(tx, orgId, id))) throw new AppError("NOT_FOUND");
      await this.audit.record(
        tx,
        by({ action: "webhook.endpoint_deleted", orgId, entity: entity(id), before: facts(old) }),
      );
    });
  }

  /**
   * A new secret signs from now on; the current one keeps signing beside it (a second `v1,` signature)
   * for the grace period (HOOK-2). Rotating again within it drops the oldest. Returns the new secret, once.
   */
  async rotate(orgId: string, id: string, by: Stamp): Promise<{ row: WebhookEndpointRow; secret: string }> {
    const now = this.clock();
    const secret = newWebhookSecret();
    return this.db.withOrg(orgId, async (tx) => {
      const old = await this.store.endpoint(tx, orgId, id);
      if (!old) throw new AppError("NOT_FOUND");
      // A secret sealed under another BULWARK_SECRET no longer opens: rotating is how to recover, so the
      // new secret then signs alone.
      let previous: string | undefined;
      try {
        previous = this.sealer.open(old.secret, SECRET, id);
      } catch {
        previous = undefined;
      }
      const graceful = this.settings.secretGraceMs > 0 && previous !== undefined;
      const set = {
        secret: this.sealer.seal(secret, SECRET, id),
        previous_secret: graceful ? this.sealer.seal(previous!, PREVIOUS_SECRET, id) : null,
        previous_until: graceful ? now + this.settings.secretGraceMs : null,
        updated_at: now,
      };
      await this.store.updateEndpoint(tx, orgId, id, set);
      await this.audit.record(
        tx,
        by({
          action: "webhook.secret_rotated",
          orgId,
          entity: entity(id),
          metadata: { previousValidUntil: set.previous_until && new Date(set.previous_until).toISOString() },
        }),
      );
      return { row: { ...old, ...set }, secret };
    });
  }

  /** The secrets a delivery to `endpoint` is signed with at `now` (the previous one only in its grace). */
  secrets(endpoint: WebhookEndpointRow, now: number): SigningSecrets {
    const current = this.open(endpoint.secret, SECRET, endpoint.id);
    const inGrace =
      endpoint.previous_secret !== null && endpoint.previous_until !== null && now < endpoint.previous_until;
    return {
      current,
      previous: inGrace ? this.open(endpoint.previous_secret!, PREVIOUS_SECRET, endpoint.id) : undefined,
    };
  }

  /**
   * Opens a sealed secret once per sealed form and binding, not once per delivery (AES-GCM was a tenth
   * of a busy dispatcher's time). Keyed by both, so a sealed value copied to another row still fails;
   * a rotated secret is another sealed form. Bounded: past the limit it starts afresh.
   */
  private open(sealed: string, field: SealedField, row: string): string {
    const key = `${field.column}/${row}\n${sealed}`;
    let secret = this.opened.get(key);
    if (secret === undefined) {
      secret = this.sealer.open(sealed, field, row);
      if (this.opened.size >= 1_000) this.opened.clear();
      this.opened.set(key, secret);
    }
    return secret;
  }

  /** Queues a test event for one endpoint ("send test event"), whatever its filter. */
  async sendTest(orgId: string, id: string): Promise<string> {
    return this.db.withOrg(orgId, async (tx) => {
      const endpoint = await this.store.endpoint(tx, orgId, id);
      if (!endpoint) throw new AppError("NOT_FOUND");
      if (endpoint.enabled !== 1)
        throw new AppError(
          "CONFLICT",
          "This endpoint is disabled: enable it before sending it a test event.",
        );
      const [msg] = await this.enqueue(tx, orgId, [
        { type: TEST_EVENT, data: { endpointId: id, message: "A test event from Bulwark." }, endpointId: id },
      ]);
      return msg!.id;
    });
  }

  private async checkUrl(raw: string): Promise<string> {
    try {
      const url = this.policy.parse(raw);
      await this.policy.check(url);
      return url.href;
    } catch (err) {
      if (err instanceof UnsafeTarget)
        throw new AppError("VALIDATION_FAILED", `The endpoint URL is refused: ${err.message}.`, [
          { in: "body", field: "url", message: err.message },
        ]);
      // Resolution failed (no such host): the same refusal, in the resolver's words.
      const message =
        (err as NodeJS.ErrnoException).code === "ENOTFOUND"
          ? "the host does not resolve"
          : "the host could not be resolved";
      throw new AppError("VALIDATION_FAILED", `The endpoint URL is refused: ${message}.`, [
        { in: "body", field: "url", message },
      ]);
    }
  }
}

/** A sealed secret belongs to one endpoint's one column: copied elsewhere, it does not open. */

const entity = (id: string) => ({ type: "webhook_endpoint", id });
/** What an endpoint's audit events show of it: never a secret. */
const facts = (r: WebhookEndpointRow) => ({
  url: r.url,
  description: r.description,
  eventTypes: JSON.parse(r.event_types) as string[],
  enabled: r.enabled === 1,
  legacySignature: r.legacy_signature === 1,
});
