/**
 * Realistic examples for /openapi.json and /docs. Without them Swagger UI invents values from each
 * schema: a pattern becomes random characters (`"5Zq@K.x"` for an email) and "Try it out" starts from
 * gibberish. A schema's own `examples` always win; these fill only what is missing, and only with a value
 * the schema accepts (a test validates every example against its schema, and the hostile sweep sends the
 * bodies they make, so each one passes the route's validation).
 */

type Schema = Record<string, unknown>;

/** A time-ordered id as `newId` makes them (src/util/ids.ts): 26 characters of Crockford base32. */
const ULID = "01JD8X3YQ6V2M4K7N9P5R0S1TW";
/** The random part of a secret token as `newSecret` makes it: 32 bytes in base64url (43 characters). */
const SECRET = "q3Vb8Kz1Tn6Wd0Xr5Lm2Hs9Fg4Jc7Pa_Ye-Uo1Ni8Ek";

/** The id prefix of each id-valued field whose schema has no pattern to read it from. */
const ID_FIELDS: Readonly<Record<string, string>> = {
  orgId: "org",
  org: "org",
  userId: "usr",
  productId: "prd",
  orderId: "ord",
  sessionId: "ses",
  invitationId: "inv",
};

/** Which token a `token` field carries, by the path it is sent to (the mail that delivered it). */
const TOKEN_BY_PATH: ReadonlyArray<readonly [RegExp, string]> = [
  [/verify-email/, "bwv"],
  [/password|reset/, "bwr"],
  [/invitation/, "bwi"],
];

/** Examples by field name, for fields whose meaning the name makes plain. */
const BY_NAME: Readonly<Record<string, unknown>> = {
  email: "ada@example.org",
  password: "violet-harbour-quarry-41",
  currentPassword: "violet-harbour-quarry-41",
  newPassword: "copper-meadow-lantern-27",
  code: "492817",
  challengeToken: `bwm_${SECRET}`,
  csrfToken: "Yk3rT9wQ2vZ8nB5xL1cM7dF4hJ6sP0aGu2Ee-Rw8Qt_",
  name: "Northwind Traders",
  slug: "northwind",
  reason: "Support ticket 4821: the customer cannot see last month's invoices",
  minutes: 30,
  role: "MEMBER",
  requireMfa: false,
  limit: 50,
  sku: "SKU-0042",
  quantity: 2,
  q: "northwind",
};

/** Whether `value` satisfies the keywords these schemas use (type, enum/const, pattern, lengths, bounds, anyOf). */
export function satisfies(schema: Schema, value: unknown): boolean {
  for (const key of ["anyOf", "oneOf"] as const) {
    const list = schema[key];
    if (Array.isArray(list) && !list.some((s) => satisfies(s as Schema, value))) return false;
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) return false;
  if ("const" in schema && schema.const !== value) return false;
  const type = schema.type;
  if (type === "string") {
    if (typeof value !== "string") return false;
    if (typeof schema.pattern === "string" && !new RegExp(schema.pattern, "u").test(value)) return false;
    if (typeof schema.minLength === "number" && value.length < schema.minLength) return false;
    if (typeof schema.maxLength === "number" && value.length > schema.maxLength) return false;
  } else if (type === "integer" || type === "number") {
    if (typeof value !== "number" || (type === "integer" && !Number.isInteger(value))) return false;
    if (typeof schema.minimum === "number" && value < schema.minimum) return false;
    if (typeof schema.maximum === "number" && value > schema.maximum) return false;
  } else if (type === "boolean") {
    if (typeof value !== "boolean") return false;
  } else if (type !== undefined) return false;
  return true;
}

/** Candidate values for one field, best first: by name, then by the id prefix its pattern names. */
function candidates(name: string, schema: Schema, url: string): unknown[] {
  const out: unknown[] = [];
  if (name in BY_NAME) out.push(BY_NAME[name]);
  if (name === "token") out.push(`${TOKEN_BY_PATH.find(([re]) => re.test(url))?.[1] ?? "bwv"}_${SECRET}`);
  const prefix =
    (typeof schema.pattern === "string" ? /^\^([a-z]{2,5})_/.exec(schema.pattern)?.[1] : undefined) ??
    ID_FIELDS[name];
  if (prefix) out.push(`${prefix}_${ULID}`);
  return out;
}

/** Whether Swagger UI would have to invent this field's value from a pattern or a format. */
export const needsExample = (schema: Schema): boolean =>
  schema.type === "string" && (typeof schema.pattern === "string" || typeof schema.format === "string");

/**
 * Adds `examples` to every field of `schema` (a copy: route schemas are never touched) that has none and
 * has a realistic value that the field's schema accepts. `url` tells tokens apart (verification, reset,
 * invitation).
 */
export function withExamples<T>(schema: T, url: string, name = ""): T {
  if (!schema || typeof schema !== "object") return schema;
  const s = { ...(schema as Schema) };
  if (s.properties && typeof s.properties === "object")
    s.properties = Object.fromEntries(
      Object.entries(s.properties as Record<string, Schema>).map(([k, v]) => [k, withExamples(v, url, k)]),
    );
  if (s.items && typeof s.items === "object") s.items = withExamples(s.items, url, name);
  const leaf = s.type !== "object" && s.type !== "array";
  if (leaf && name && s.examples === undefined && s.example === undefined) {
    const value = candidates(name, s, url).find((v) => satisfies(s, v));
    if (value !== undefined) s.examples = [value];
  }
  return s as T;
}
