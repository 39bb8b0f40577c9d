import AjvCompiler from "@fastify/ajv-compiler";
import type { FastifyReply, FastifyRequest, FastifyServerOptions, RouteOptions } from "fastify";
import { AppError } from "./errors.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The body is a file streamed by the handler, not JSON: no body schema (the handler bounds it). */
    streamedBody?: boolean;
  }
}

/** Ajv settings for every route (INPUT-1, INPUT-3). */
export const AJV_OPTIONS = {
  // Fastify's default silently strips unknown properties; a security product refuses them instead.
  removeAdditional: false,
  // `true`, not Fastify's default `"array"`: a repeated query parameter (?a=1&a=2) arrives as an array and
  // must fail a scalar schema rather than be coerced (INPUT-3).
  coerceTypes: true,
  useDefaults: true,
  allErrors: false,
} as const;

type BuildValidator = NonNullable<
  NonNullable<NonNullable<FastifyServerOptions["schemaController"]>["compilersFactory"]>["buildValidator"]
>;

/**
 * Two validators (INPUT-1): path and query parameters are text on the wire, so they are coerced to the
 * declared type ("5" → 5); a JSON body already has types, so it is taken as sent: `"priceCents":"5"` is
 * refused, never silently turned into a number.
 */
type Validate = ((data: unknown) => boolean) & { errors?: unknown };

/**
 * Coercion turns "1e309" or "Infinity" into ±Infinity, which Ajv's number checks let through (minimum
 * and maximum are skipped): a LIMIT Infinity then fails in the database. Path and query values must be
 * finite numbers.
 */
function finiteOnly(validate: Validate): Validate {
  const wrapped: Validate = (data) => {
    const ok = validate(data);
    wrapped.errors = validate.errors;
    if (!ok || !data || typeof data !== "object") return ok;
    // Every request with params or a query passes here: no allocation on the way through.
    const values = data as Record<string, unknown>;
    for (const key in values) {
      const value = values[key];
      if (typeof value === "number" && !Number.isFinite(value)) {
        wrapped.errors = [
          { instancePath: `/${key}`, keyword: "type", message: "must be a finite number", params: {} },
        ];
        return false;
      }
    }
    return true;
  };
  return wrapped;
}

export function validatorFactory(): BuildValidator {
  const pool = AjvCompiler();
  return ((externalSchemas: unknown, serverOptions: { customOptions?: object }) => {
    const opts = (coerceTypes: boolean) => ({
      ...serverOptions,
      customOptions: { ...AJV_OPTIONS, coerceTypes },
    });
    const coercing = pool(externalSchemas as never, opts(true) as never);
    const strict = pool(externalSchemas as never, opts(false) as never);
    return (route: { httpPart?: string }) =>
      route.httpPart === "body" ? strict(route as never) : finiteOnly(coercing(route as never));
  }) as unknown as BuildValidator;
}

const EMPTY_QUERY = { type: "object", properties: {}, additionalProperties: false } as const;
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

type Schema = Record<string, unknown>;

/** Closes every object schema that did not say otherwise, so unknown properties are rejected by default. */
function closeObjects(schema: unknown): void {
  if (!schema || typeof schema !== "object") return;
  const s = schema as Schema;
  if (s.type === "object" && s.additionalProperties === undefined && s.patternProperties === undefined) {
    s.additionalProperties = false;
  }
  for (const key of ["properties", "patternProperties", "$defs", "definitions"]) {
    const child = s[key];
    if (child && typeof child === "object") for (const v of Object.values(child)) closeObjects(v);
  }
  for (const key of ["items", "additionalItems", "not", "if", "then", "else"]) closeObjects(s[key]);
  for (const key of ["anyOf", "allOf", "oneOf", "prefixItems"]) {
    const list = s[key];
    if (Array.isArray(list)) for (const v of list) closeObjects(v);
  }
}

/** A request that carries a body: a non-zero Content-Length, or a chunked one. */
const hasBody = (request: FastifyRequest): boolean => {
  const length = request.headers["content-length"];
  return (length !== undefined && length !== "0") || request.headers["transfer-encoding"] !== undefined;
};

/** For a route that declares no body: a request that sends one anyway is refused, whatever its method. */
function refuseBody(request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void {
  done(
    hasBody(request)
      ? new AppError("VALIDATION_FAILED", "This route takes no request body.", [
          { in: "body", field: "", message: "is not allowed on this route" },
        ])
      : undefined,
  );
}

/** For a body whose every field is optional: no body at all means an empty object, not a 400. */
function emptyBodyIsEmptyObject(request: FastifyRequest, _reply: FastifyReply, done: () => void): void {
  // Only a missing body: a JSON `null` is a body, and the schema refuses it.
  if (request.body === undefined) request.body = {};
  done();
}

const appendHook = (route: RouteOptions, name: "onRequest" | "preValidation", hook: unknown): void => {
  const existing = route[name] as unknown;
  (route as unknown as Record<string, unknown>)[name] = existing
    ? [...(Array.isArray(existing) ? existing : [existing]), hook]
    : [hook];
};

/**
 * Runs on every route as it is registered (INPUT-1): a route without a query schema accepts no query
 * parameters; a POST/PUT/PATCH route without a body schema fails start-up, so no handler can receive an
 * unvalidated body; a route of any method that declares no body refuses a request carrying one (a
 * DELETE body is parsed by Fastify, and would otherwise reach the handler unvalidated); a body whose
 * fields are all optional may be left out; object schemas are closed unless they opt out.
 */
export function enforceRouteSchemas(route: RouteOptions): void {
  route.schema ??= {};
  const schema = route.schema as Schema;
  schema.querystring ??= EMPTY_QUERY;
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  // A file body (the local store's signed uploads, DATA-3) is bytes, not JSON: its route checks what the
  // signed link bound it to (type and exact length) and streams it, never parsing it.
  const streamed = (route.config as { streamedBody?: boolean } | undefined)?.streamedBody === true;
  if (streamed) {
    for (const part of ["querystring", "params", "headers"]) closeObjects(schema[part]);
    return;
  }
  if (methods.some((m) => BODY_METHODS.has(m)) && !schema.body) {
    throw new Error(
      `Route ${methods.join(",")} ${route.url} has no body schema; every request body must be validated (INPUT-1).`,
    );
  }
  const body = schema.body as Schema | undefined;
  if (!body) appendHook(route, "onRequest", refuseBody);
  else if (body.type === "object" && !(Array.isArray(body.required) && body.required.length > 0))
    appendHook(route, "preValidation", emptyBodyIsEmptyObject);
  for (const part of ["body", "querystring", "params", "headers"]) closeObjects(schema[part]);
}
