import type { FastifyRequest } from "fastify";
import { byRequest } from "./actor.js";
import type { AuditEvent } from "./entry.js";

/** A refused action, as the tenant check (or a service's rule) reports it. */
export interface DenialFacts {
  readonly orgId: string;
  readonly action: string;
  readonly resource: string;
  readonly reason: string;
}

/**
 * AUTHZ-6: a refusal as a `permission.denied` event. A member's refusal goes to its organisation's log; a
 * stranger's (not a member, or an unknown organisation) to the platform log, so nobody can write into an
 * organisation's log by knocking on its door.
 */
export function denialEvent(d: DenialFacts, request: FastifyRequest, member: boolean): AuditEvent {
  return byRequest(request, {
    action: "permission.denied",
    orgId: member ? d.orgId : undefined,
    entity: { type: "route", id: d.resource },
    metadata: { orgId: d.orgId || null, action: d.action || null, reason: d.reason },
  });
}
