import { randomBytes, timingSafeEqual } from "node:crypto";
import { Socket } from "node:net";
import type { FastifyRequest } from "fastify";

/**
 * Marks a self-check (POST-3) as arriving over HTTPS, as the deployment's clients' requests do. Honoured
 * only on a request with no network socket (only `app.inject` in this process makes one), from the
 * self-check address, carrying this process's random token: from the network the header changes nothing,
 * and an embedder forwarding clients through app.inject cannot pass it on without the token.
 */
export const SELF_CHECK_HEADER = "x-bulwark-self-check";
export const SELF_CHECK_TOKEN = randomBytes(16).toString("hex");
const TOKEN = Buffer.from(SELF_CHECK_TOKEN);

/**
 * The address self-check requests come from: TEST-NET-1 (RFC 5737), never a real client's, so a probe
 * shares no rate-limit bucket with anyone.
 */
export const SELF_CHECK_ADDRESS = "192.0.2.1";

/** A request made in this process (app.inject), not received from the network. */
const inProcess = (request: FastifyRequest): boolean => !(request.raw.socket instanceof Socket);

/** Whether a request claims HTTPS through the self-check marker, and may (see SELF_CHECK_HEADER). */
export function selfCheckOverHttps(request: FastifyRequest): boolean {
  const presented = request.headers[SELF_CHECK_HEADER];
  if (typeof presented !== "string" || !isSelfCheck(request)) return false;
  const b = Buffer.from(presented);
  return b.length === TOKEN.length && timingSafeEqual(b, TOKEN);
}

/**
 * One of the server's own self-check requests (by its socket's address, never a forwarded header): kept
 * out of the request metrics and access log operators alert on, and counted in a bucket of its own.
 */
export function isSelfCheck(request: FastifyRequest): boolean {
  return request.raw.socket?.remoteAddress === SELF_CHECK_ADDRESS && inProcess(request);
}

/** The rate-limit key of self-checks: per process, so no client can exhaust it (X-Forwarded-For). */
export const SELF_CHECK_BUCKET = `self-check:${SELF_CHECK_TOKEN}`;
