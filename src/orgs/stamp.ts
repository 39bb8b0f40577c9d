import type { FastifyRequest } from "fastify";
import { byRequest } from "../audit/actor.js";
import type { AuditEvent } from "../audit/entry.js";

/** A domain event as a service describes it: what changed, not who changed it. */
export type DomainEvent = Parameters<typeof byRequest>[1];

/**
 * Says who raised a domain event (AUDIT-2): actor, impersonator, request id and IP. A route hands its
 * request's stamp to the service, which applies it when it records inside its own transaction: the
 * service knows what changed and when it commits, the route knows who asked, and neither needs the
 * other's half (a service never touches HTTP).
 */
export type Stamp = (event: DomainEvent) => AuditEvent;

/** The stamp of a request: its proved principal (ANONYMOUS when none) and its request facts. */
export const stampOf =
  (request: FastifyRequest): Stamp =>
  (event) =>
    byRequest(request, event);
