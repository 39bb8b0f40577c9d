import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { nextCursor, pageParams } from "../http/paging.js";
import { NoContent } from "../identity/schemas.js";
import { stampOf } from "../orgs/stamp.js";
import type { DeliveryService } from "./deliveries.js";
import type { WebhookService } from "./service.js";
import type { DeliveryListing } from "./store.js";
import type { WebhookAttemptRow, WebhookEndpointRow } from "./tables.js";

const tags = ["webhooks"];
const ENDPOINT_ID = "^whe_[0-9A-Z]{26}$";
const DELIVERY_ID = "^whd_[0-9A-Z]{26}$";
/** `entity.verb`, lower case, like the domain events' actions. */
const EVENT_TYPE = "^[a-z][a-z0-9_]{0,30}(\\.[a-z][a-z0-9_]{0,30}){1,3}$";
const OrgParams = Type.Object({ orgId: Type.String({ maxLength: 40 }) });
const EndpointParams = Type.Object({
  orgId: Type.String({ maxLength: 40 }),
  id: Type.String({ pattern: ENDPOINT_ID }),
});
const DeliveryParams = Type.Object({
  orgId: Type.String({ maxLength: 40 }),
  id: Type.String({ pattern: DELIVERY_ID }),
});
const Iso = Type.Union([Type.String({ format: "date-time" }), Type.Null()]);
const EventTypes = Type.Array(Type.String({ pattern: EVENT_TYPE, examples: ["member.role_changed"] }), {
  maxItems: 100,
  description: "Event types sent to this endpoint; empty: every type.",
});

const Endpoint = Type.Object({
  id: Type.String(),
  url: Type.String(),
  description: Type.String(),
  eventTypes: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  disabledReason: Type.Union([Type.Literal("manual"), Type.Literal("gone"), Type.Null()], {
    description: "`gone`: the receiver answered 410 Gone. Enable it again by hand.",
  }),
  legacySignature: Type.Boolean(),
  breaker: Type.Object({
    state: Type.Union([Type.Literal("closed"), Type.Literal("open"), Type.Literal("half_open")]),
    consecutiveFailures: Type.Integer(),
    until: Iso,
  }),
  previousSecretValidUntil: Iso,
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
const WithSecret = Type.Object({
  endpoint: Endpoint,
  secret: Type.String({
    description:
      "The signing secret (`whsec_…`). Shown this once: Bulwark keeps it sealed and never shows it again.",
  }),
});
const Delivery = Type.Object({
  id: Type.String(),
  messageId: Type.String({ description: "The `webhook-id` header: the same on every attempt and replay." }),
  endpointId: Type.String(),
  type: Type.String(),
  status: Type.Union([
    Type.Literal("pending"),
    Type.Literal("sending"),
    Type.Literal("succeeded"),
    Type.Literal("dead"),
  ]),
  attempts: Type.Integer(),
  nextAttemptAt: Iso,
  lastStatus: Type.Union([Type.Integer(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
const Attempt = Type.Object({
  at: Type.String(),
  durationMs: Type.Integer(),
  status: Type.Union([Type.Integer(), Type.Null()]),
  response: Type.Union([Type.String(), Type.Null()], { description: "The first 4 KB of the answer." }),
  error: Type.Union([Type.String(), Type.Null()]),
});

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

export function endpointView(r: WebhookEndpointRow, now = Date.now()) {
  return {
    id: r.id,
    url: r.url,
    description: r.description,
    eventTypes: JSON.parse(r.event_types) as string[],
    enabled: r.enabled === 1,
    disabledReason: r.disabled_reason as "manual" | "gone" | null,
    legacySignature: r.legacy_signature === 1,
    breaker: {
      state: r.breaker as "closed" | "open" | "half_open",
      consecutiveFailures: r.failures,
      until: iso(r.breaker_until),
    },
    previousSecretValidUntil:
      r.previous_until !== null && r.previous_until > now ? iso(r.previous_until) : null,
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
  };
}

const deliveryView = (d: DeliveryListing) => ({
  id: d.id,
  messageId: d.message_id,
  endpointId: d.endpoint_id,
  type: d.type,
  status: d.status as "pending" | "sending" | "succeeded" | "dead",
  attempts: d.attempts,
  nextAttemptAt: d.status === "pending" ? iso(d.next_at) : null,
  lastStatus: d.last_status,
  lastError: d.last_error,
  createdAt: new Date(d.created_at).toISOString(),
  updatedAt: new Date(d.updated_at).toISOString(),
});

const attemptView = (a: WebhookAttemptRow) => ({
  at: new Date(a.at).toISOString(),
  durationMs: a.duration_ms,
  status: a.status,
  response: a.response,
  error: a.error,
});

/** Webhook routes (HOOK-1…HOOK-5): `/v1/orgs/:orgId/webhook-*`. */
export async function webhookRoutes(
  app: FastifyInstance,
  opts: { hooks: WebhookService; deliveries: DeliveryService },
): Promise<void> {
  const { hooks, deliveries } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const EndpointBody = {
    url: Type.String({ maxLength: 2048, examples: ["https://hooks.example.org/bulwark"] }),
    description: Type.Optional(Type.String({ maxLength: 200 })),
    eventTypes: Type.Optional(EventTypes),
    enabled: Type.Optional(Type.Boolean()),
    legacySignature: Type.Optional(
      Type.Boolean({ description: "Also send X-Webhook-Signature / X-Webhook-Timestamp (default false)." }),
    ),
  };

  r.get(
    "/v1/orgs/:orgId/webhook-endpoints",
    {
      schema: {
        tags,
        params: OrgParams,
        response: { 200: Type.Object({ endpoints: Type.Array(Endpoint) }) },
      },
    },
    async (req) => ({ endpoints: (await hooks.list(req.tenant!.orgId)).map((e) => endpointView(e)) }),
  );

  r.post(
    "/v1/orgs/:orgId/webhook-endpoints",
    { schema: { tags, params: OrgParams, body: Type.Object(EndpointBody), response: { 201: WithSecret } } },
    async (req, reply) => {
      const made = await hooks.create(req.tenant!.orgId, req.body, stampOf(req));
      return reply.code(201).send({ endpoint: endpointView(made.row), secret: made.secret });
    },
  );

  r.patch(
    "/v1/orgs/:orgId/webhook-endpoints/:id",
    {
      schema: {
        tags,
        params: EndpointParams,
        body: Type.Object({ ...EndpointBody, url: Type.Optional(EndpointBody.url) }, { minProperties: 1 }),
        response: { 200: Endpoint },
      },
    },
    async (req) => endpointView(await hooks.update(req.tenant!.orgId, req.params.id, req.body, stampOf(req))),
  );

  r.delete(
    "/v1/orgs/:orgId/webhook-endpoints/:id",
    { schema: { tags, params: EndpointParams, response: NoContent } },
    async (req, reply) => {
      await hooks.remove(req.tenant!.orgId, req.params.id, stampOf(req));
      return reply.code(204).send();
    },
  );

  r.post(
    "/v1/orgs/:orgId/webhook-endpoints/:id/rotate-secret",
    {
      schema: {
        tags,
        params: EndpointParams,
        body: Type.Optional(Type.Object({})),
        response: { 201: WithSecret },
      },
    },
    async (req, reply) => {
      const made = await hooks.rotate(req.tenant!.orgId, req.params.id, stampOf(req));
      return reply.code(201).send({ endpoint: endpointView(made.row), secret: made.secret });
    },
  );

  r.post(
    "/v1/orgs/:orgId/webhook-endpoints/:id/test",
    {
      schema: {
        tags,
        params: EndpointParams,
        body: Type.Optional(Type.Object({})),
        response: { 202: Type.Object({ messageId: Type.String() }) },
      },
    },
    async (req, reply) =>
      reply.code(202).send({ messageId: await hooks.sendTest(req.tenant!.orgId, req.params.id) }),
  );

  const listDeliveries = {
    querystring: Type.Object({
      ...pageParams(DELIVERY_ID, 50),
      status: Type.Optional(
        Type.Union([
          Type.Literal("pending"),
          Type.Literal("sending"),
          Type.Literal("succeeded"),
          Type.Literal("dead"),
        ]),
      ),
      endpointId: Type.Optional(Type.String({ pattern: ENDPOINT_ID })),
    }),
    response: {
      200: Type.Object({
        deliveries: Type.Array(Delivery),
        nextCursor: Type.Union([Type.String(), Type.Null()]),
      }),
    },
  };
  r.get(
    "/v1/orgs/:orgId/webhook-deliveries",
    { schema: { tags, params: OrgParams, ...listDeliveries } },
    async (req) => {
      const limit = req.query.limit ?? 50;
      const rows = await deliveries.list(
        req.tenant!.orgId,
        { endpointId: req.query.endpointId, status: req.query.status },
        limit,
        req.query.after,
      );
      return { deliveries: rows.map(deliveryView), nextCursor: nextCursor(rows, limit, (d) => d.id) };
    },
  );

  r.get(
    "/v1/orgs/:orgId/webhook-deliveries/:id",
    {
      schema: {
        tags,
        params: DeliveryParams,
        response: { 200: Type.Object({ delivery: Delivery, attempts: Type.Array(Attempt) }) },
      },
    },
    async (req) => {
      const { delivery, attempts } = await deliveries.get(req.tenant!.orgId, req.params.id);
      return { delivery: deliveryView(delivery), attempts: attempts.map(attemptView) };
    },
  );

  r.post(
    "/v1/orgs/:orgId/webhook-deliveries/:id/replay",
    {
      schema: {
        tags,
        params: DeliveryParams,
        body: Type.Optional(Type.Object({})),
        response: { 202: Delivery },
      },
    },
    async (req, reply) =>
      reply
        .code(202)
        .send(deliveryView(await deliveries.replay(req.tenant!.orgId, req.params.id, stampOf(req)))),
  );

  r.post(
    "/v1/orgs/:orgId/webhook-messages",
    {
      schema: {
        tags,
        params: OrgParams,
        body: Type.Object({
          type: Type.String({ pattern: EVENT_TYPE, examples: ["invoice.paid"] }),
          data: Type.Record(Type.String(), Type.Unknown(), {
            description:
              "The event's data: sent as `data` in the body, signed, to every endpoint taking this type.",
          }),
        }),
        response: { 202: Type.Object({ messageId: Type.String() }) },
      },
      config: { idempotent: true },
    },
    async (req, reply) => {
      const messageId = await hooks.publish(req.tenant!.orgId, req.body.type, req.body.data);
      return reply.code(202).send({ messageId });
    },
  );
}
