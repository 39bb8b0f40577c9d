import { randomUUID } from "node:crypto";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AppError, ERRORS, type ErrorEnvelope, type FieldError } from "./errors.js";

/** Fastify's own error codes, mapped to ours so clients see one vocabulary. */
const FASTIFY_CODES: Record<string, AppError["code"]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "BAD_REQUEST",
  FST_ERR_CTP_EMPTY_JSON_BODY: "INVALID_JSON",
  FST_ERR_CTP_INVALID_JSON_BODY: "INVALID_JSON",
  FST_ERR_BAD_URL: "BAD_REQUEST",
  FST_ERR_ASYNC_CONSTRAINT: "BAD_REQUEST",
};

const BY_STATUS: Record<number, AppError["code"]> = {
  400: "BAD_REQUEST",
  401: "UNAUTHENTICATED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  409: "CONFLICT",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  422: "UNPROCESSABLE",
  429: "RATE_LIMITED",
  503: "SERVICE_UNAVAILABLE",
};

/** Connection-level failures of a database or Redis: a dependency is down, not a bug (503, not 500). */
const UNAVAILABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "57P01",
  "57P02",
  "57P03",
  "08000",
  "08003",
  "08006",
]);

/** Turns anything thrown into an AppError; unknown errors become INTERNAL, never leaking their message. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as Partial<FastifyError> & { validation?: unknown[]; validationContext?: string };
  if (Array.isArray(e.validation))
    return new AppError("VALIDATION_FAILED", undefined, fieldErrors(e.validation, e.validationContext));
  const mapped = e.code ? FASTIFY_CODES[e.code] : undefined;
  if (mapped) return new AppError(mapped);
  if (e.code && UNAVAILABLE.has(e.code)) return new AppError("SERVICE_UNAVAILABLE");
  if (e.message?.includes("Connection terminated") || e.message?.includes("connect ECONNREFUSED"))
    return new AppError("SERVICE_UNAVAILABLE");
  const status = typeof e.statusCode === "number" ? e.statusCode : 500;
  if (status >= 400 && status < 500) return new AppError(BY_STATUS[status] ?? "BAD_REQUEST");
  return new AppError("INTERNAL");
}

interface AjvError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: { missingProperty?: string; additionalProperty?: string };
}

function fieldErrors(errors: unknown[], context: string | undefined): FieldError[] {
  const where = (context ?? "body") as FieldError["in"];
  return (errors as AjvError[]).map((v) => {
    const base = (v.instancePath ?? "").replace(/^\//, "").replaceAll("/", ".");
    const extra = v.params?.missingProperty ?? v.params?.additionalProperty;
    const field = [base, extra].filter(Boolean).join(".") || "(root)";
    const message = v.keyword === "additionalProperties" ? "unknown property" : (v.message ?? "is invalid");
    return { in: where, field, message };
  });
}

export function sendError(reply: FastifyReply, requestId: string, err: AppError): FastifyReply {
  const body: ErrorEnvelope = { error: { code: err.code, message: err.message, requestId } };
  if (err.details !== undefined) body.error.details = err.details;
  if (err.headers) reply.headers(err.headers);
  return reply.code(err.status).type("application/json; charset=utf-8").send(body);
}

/**
 * Authorization refusals raised past the guard's tenant check (which records its own): by a service's
 * rule (only an owner may touch owners) or by the pipeline's impersonation check. Recorded like the
 * tenant check's, as "permission denied" with who, where and what (AUTHZ-6).
 */
const DENIALS = new Set(["OWNER_REQUIRED", "IMPERSONATION_FORBIDDEN"]);

function recordDenial(request: FastifyRequest, code: string): void {
  const p = request.principal;
  request.log.warn(
    {
      denial: {
        actorId: p?.id,
        actorKind: p?.kind,
        impersonator: p?.impersonator,
        orgId: request.tenant?.orgId ?? (request.params as { orgId?: string } | undefined)?.orgId,
        action: request.routeOptions.config.guard?.action,
        resource: request.routeOptions.url ?? request.url,
        reason: code,
      },
    },
    "permission denied",
  );
}

declare module "fastify" {
  interface FastifyRequest {
    /** The error code this request was answered with, for the metrics (OBS-5); unset on success. */
    errorCode?: string;
  }
}

/** Installs the one error handler: a 5xx is logged with its stack on the server and rendered without it. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const appErr = toAppError(err);
    request.errorCode = appErr.code;
    if (DENIALS.has(appErr.code)) recordDenial(request, appErr.code);
    try {
      if (appErr.status >= 500) request.log.error({ err }, "request failed");
      else if (appErr.code !== (err as AppError).code)
        request.log.info({ code: appErr.code, reason: (err as Error).message }, "request rejected");
    } catch {
      // An error that cannot be logged must still be answered with the envelope, never Fastify's own
      // body (which would carry the logging failure's message).
      request.log.error({ errorClass: (err as Error)?.name }, "request failed (error not loggable)");
    }
    return sendError(reply, request.id, appErr);
  });
}

/**
 * Installs the not-found handler; a 404 on a path that exists for another method becomes 405 with
 * `Allow`. Call it after every hook is added: the 404 handler only runs the hooks that exist by then.
 */
export function installNotFound(app: FastifyInstance, allowedMethods: (url: string) => string[]): void {
  app.setNotFoundHandler((request, reply) => {
    const allow = allowedMethods(request.url);
    // A route of this very method that found nothing (a missing static file) is a 404, not a 405.
    const method = request.method === "HEAD" ? "GET" : request.method;
    if (allow.length > 0 && !allow.includes(method))
      return sendError(
        reply,
        request.id,
        new AppError("METHOD_NOT_ALLOWED", undefined, undefined, { allow: allow.join(", ") }),
      );
    request.errorCode = "NOT_FOUND";
    return sendError(reply, request.id, new AppError("NOT_FOUND"));
  });
}

export { ERRORS };

/**
 * Requests Node's HTTP parser cannot read (a malformed request line, a bad header, headers too large)
 * never reach Fastify's routing; by default they get a bare 400 with none of the security headers. This
 * answers them like every other error: the envelope, a request id, the security headers, and the
 * connection closed (the stream cannot be trusted after a parse error).
 */
export function clientErrorHandler(
  headers: Readonly<Record<string, string>>,
): (err: Error & { code?: string }, socket: import("node:net").Socket) => void {
  return (err, socket) => {
    if (err.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === "HPE_HEADER_OVERFLOW";
    const id = randomUUID();
    const body = JSON.stringify({
      error: {
        code: tooLarge ? "REQUEST_HEADERS_TOO_LARGE" : "BAD_REQUEST",
        message: tooLarge ? ERRORS.REQUEST_HEADERS_TOO_LARGE.message : "The request could not be parsed.",
        requestId: id,
      },
    });
    const lines = [
      tooLarge ? "HTTP/1.1 431 Request Header Fields Too Large" : "HTTP/1.1 400 Bad Request",
      "content-type: application/json; charset=utf-8",
      `content-length: ${Buffer.byteLength(body)}`,
      `x-request-id: ${id}`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      "connection: close",
    ];
    socket.end(`${lines.join("\r\n")}\r\n\r\n${body}`);
  };
}
