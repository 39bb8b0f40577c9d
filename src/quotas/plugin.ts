import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { AppError } from "../http/errors.js";
import { API_REQUESTS, type QuotaService } from "./service.js";

const UNIT = "^[a-z][a-z0-9_]{0,30}$";
const OrgParams = Type.Object({ orgId: Type.String({ maxLength: 40 }) });
/** Admin routes name an organisation without the tenant check's shape test in front: the schema does it. */
const ORG_ID = Type.String({ pattern: "^org_[0-9A-Z]{26}$" });
const Mode = Type.Union([Type.Literal("refuse"), Type.Literal("warn")]);
const UnitUsage = Type.Object({
  unit: Type.String(),
  used: Type.Integer(),
  allowance: Type.Integer(),
  mode: Mode,
});
const UsageAnswer = Type.Object({
  month: Type.String({ description: "The UTC month counted, YYYY-MM." }),
  resetsAt: Type.String({ description: "When the counts start again from zero (the 1st, 00:00 UTC)." }),
  units: Type.Array(UnitUsage),
});

/** Usage and quotas (RATE-6): an organisation's view, an app's metering, a platform admin's allowances. */
export async function quotaRoutes(app: FastifyInstance, opts: { quotas: QuotaService }): Promise<void> {
  const { quotas } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const answer = async (orgId: string) => {
    const u = await quotas.usage(orgId);
    return { month: u.month, resetsAt: new Date(u.resetsAt).toISOString(), units: u.units };
  };

  r.get(
    "/v1/orgs/:orgId/usage",
    { schema: { tags: ["usage"], params: OrgParams, response: { 200: UsageAnswer } } },
    async (req) => answer(req.tenant!.orgId),
  );

  r.post(
    "/v1/orgs/:orgId/usage",
    {
      schema: {
        tags: ["usage"],
        params: OrgParams,
        body: Type.Object({
          unit: Type.String({ pattern: UNIT, examples: ["ai_tokens"] }),
          quantity: Type.Integer({ minimum: 1, maximum: 1_000_000, examples: [1200] }),
        }),
        response: { 200: UnitUsage },
      },
    },
    async (req) => {
      const { unit, quantity } = req.body;
      const orgId = req.tenant!.orgId;
      if (unit === API_REQUESTS)
        throw new AppError("VALIDATION_FAILED", undefined, [
          { in: "body", field: "unit", message: `${API_REQUESTS} is counted by Bulwark itself` },
        ]);
      const q = (await quotas.quotas(orgId)).get(unit);
      if (!q)
        throw new AppError("VALIDATION_FAILED", undefined, [
          { in: "body", field: "unit", message: `no quota is configured for ${unit}` },
        ]);
      const m = await quotas.meter(orgId, unit, quantity);
      return { unit, used: m?.used ?? 0, allowance: q.allowance, mode: q.mode };
    },
  );

  r.get(
    "/v1/admin/orgs/:orgId/usage",
    { schema: { tags: ["admin"], params: Type.Object({ orgId: ORG_ID }), response: { 200: UsageAnswer } } },
    async (req) => answer(await quotas.existing(req.params.orgId)),
  );

  r.put(
    "/v1/admin/orgs/:orgId/quotas/:unit",
    {
      schema: {
        tags: ["admin"],
        params: Type.Object({
          orgId: ORG_ID,
          unit: Type.String({ pattern: UNIT, examples: ["api_requests"] }),
        }),
        body: Type.Object({
          allowance: Type.Integer({ minimum: 0, maximum: 1_000_000_000_000, examples: [250000] }),
          mode: Mode,
        }),
        response: { 200: UsageAnswer },
      },
    },
    async (req) => {
      const orgId = await quotas.existing(req.params.orgId);
      await quotas.set(orgId, req.params.unit, req.body);
      req.log.info(
        { event: "quota.set", orgId, unit: req.params.unit, ...req.body, adminId: req.principal!.id },
        "quota set",
      );
      return answer(orgId);
    },
  );
}
