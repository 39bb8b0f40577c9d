import type { FastifyRequest } from "fastify";
import type { Principal } from "../auth/principal.js";
import type { AuditActor, AuditEvent } from "./entry.js";

const TYPES: Readonly<Record<string, AuditActor["type"]>> = {
  user: "USER",
  admin: "ADMIN",
  api_key: "API_KEY",
};

declare module "fastify" {
  interface FastifyRequest {
    /**
     * Who a request without a principal proved to be (a password at sign-in's first step, a refresh
     * token): its audit record names them instead of ANONYMOUS.
     */
    auditActor?: AuditActor;
  }
}

/** The actor of a request: its proved principal, or ANONYMOUS when none was proved. */
export function actorOf(principal: Principal | undefined): AuditActor {
  if (!principal) return ANONYMOUS;
  return { type: TYPES[principal.kind] ?? "USER", id: principal.id, email: principal.email };
}

export const ANONYMOUS: AuditActor = { type: "ANONYMOUS", id: null, email: null };
export const SYSTEM: AuditActor = { type: "SYSTEM", id: null, email: null };

/**
 * The who-and-where of a domain event raised while serving `request`: actor, impersonator and the
 * request id in the metadata, so an event and its request record can be joined.
 */
export function byRequest(
  request: FastifyRequest,
  event: Omit<AuditEvent, "actor" | "impersonator"> & { actor?: AuditActor },
): AuditEvent {
  const p = request.principal;
  return {
    ...event,
    actor: event.actor ?? actorOf(p),
    impersonator: p?.impersonator ?? null,
    metadata: { ...event.metadata, requestId: request.id, ip: request.ip },
  };
}
