import { Socket } from "node:net";
import type { FastifyRequest } from "fastify";

/**
 * Marks a self-check (POST-3) as arriving over HTTPS, as the deployment's clients' requests do. Honoured
 * only on a request with no network socket, which only `app.inject` in this process can make: from the
 * network the header changes nothing.
 */
export const SELF_CHECK_HEADER = "x-bulwark-self-check";

/**
 * The address self-check requests come from: TEST-NET-1 (RFC 5737), never a real client's, so a probe
 * shares no rate-limit bucket with anyone.
 */
export const SELF_CHECK_ADDRESS = "192.0.2.1";

/** A request made in this process (app.inject), not received from the network. */
const inProcess = (request: FastifyRequest): boolean => !(request.raw.socket instanceof Socket);

/** Whether a request claims HTTPS through the self-check marker, and may (see SELF_CHECK_HEADER). */
export const selfCheckOverHttps = (request: FastifyRequest): boolean =>
  request.headers[SELF_CHECK_HEADER] !== undefined && inProcess(request);

/** One of the server's own self-check requests: kept out of the request metrics operators alert on. */
export const isSelfCheck = (request: FastifyRequest): boolean =>
  request.raw.socket?.remoteAddress === SELF_CHECK_ADDRESS && inProcess(request);
