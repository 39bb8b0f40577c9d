import type { FastifyRequest } from "fastify";
import { AppError } from "../http/errors.js";
import type { SessionEntry } from "../sessions/cache.js";

/**
 * The session behind the request's principal, for routes about the session itself (sign-out, session
 * lists, password and second-factor changes). The route table admits only session principals there;
 * anything else is refused rather than guessed at.
 */
export function sessionOf(request: FastifyRequest): SessionEntry {
  const session = request.principal?.session;
  if (!session) throw new AppError("UNAUTHENTICATED");
  return session;
}
