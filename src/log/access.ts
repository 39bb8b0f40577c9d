import type { FastifyReply, FastifyRequest } from "fastify";
import type { Config } from "../config/load.js";
import { redactUrl } from "./logger.js";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const SLOW_MS = 1000;

/**
 * The access line of a request (OBS-1, OBS-2), serialised by hand: it is the one log line written per
 * request, and pino's generic path (object walk, redaction, child bindings) cost more than the request
 * itself on small routes. Every field is built by Bulwark: strings go through JSON.stringify, the URL is
 * redacted first, and no header or body is ever included. The format matches the other log lines.
 */
export function accessLine(request: FastifyRequest, reply: FastifyReply, route: string): string {
  return `{"level":"info","time":${Date.now()},"service":"bulwark","requestId":${JSON.stringify(request.id)},"method":"${request.method}","url":${JSON.stringify(redactUrl(request.url))},"route":${JSON.stringify(route)},"status":${reply.statusCode},"ms":${Math.round(reply.elapsedTime * 100) / 100},"ip":${JSON.stringify(request.ip)},"msg":"request completed"}\n`;
}

/** Which requests get an access line (ACCESS_LOG). `writes` keeps every mutation, failure and slow request. */
export function accessFilter(config: Config): (request: FastifyRequest, reply: FastifyReply) => boolean {
  const infoOn = ["info", "debug", "trace"].includes(config.logLevel);
  if (!infoOn || config.accessLog === "off") return () => false;
  if (config.accessLog === "all") return () => true;
  return (request, reply) =>
    !SAFE_METHODS.has(request.method) || reply.statusCode >= 400 || reply.elapsedTime > SLOW_MS;
}
