import type { RouteOptions } from "fastify";

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

/**
 * Runs on every route as it is registered (INPUT-1): a route without a query schema accepts no query
 * parameters; a POST/PUT/PATCH route without a body schema fails start-up, so no handler can receive an
 * unvalidated body; object schemas are closed unless they opt out.
 */
export function enforceRouteSchemas(route: RouteOptions): void {
  route.schema ??= {};
  const schema = route.schema as Schema;
  schema.querystring ??= EMPTY_QUERY;
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  if (methods.some((m) => BODY_METHODS.has(m)) && !schema.body) {
    throw new Error(
      `Route ${methods.join(",")} ${route.url} has no body schema; every request body must be validated (INPUT-1).`,
    );
  }
  for (const part of ["body", "querystring", "params", "headers"]) closeObjects(schema[part]);
}
