import AjvCompiler from "@fastify/ajv-compiler";
import { AJV_OPTIONS } from "../src/http/validation.js";

/**
 * Hostile input for the sweep (test/bad-input.test.ts): raw bodies every route must refuse, mutations of a
 * route's own body and query schema (wrong types, out of range, missing, extra), hostile path parameters,
 * and schema-valid values with hostile content that must reach the handler and still not break it.
 */

type Schema = Record<string, unknown>;
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** One hostile request body: the text sent as is, and its Content-Type. */
export interface RawBody {
  readonly name: string;
  readonly text: string;
  readonly type: string;
}

/** A body every route refuses (at parsing or at validation), whatever its schema and method. */
export function rawBodies(bodyLimit: number): RawBody[] {
  const json = (name: string, text: string): RawBody => ({ name, text, type: "application/json" });
  return [
    json("truncated JSON", '{"broken": '),
    json("an array for an object", "[1,2,3]"),
    json("JSON null", "null"),
    json("a bare number", "42"),
    json("a bare string", '"hello"'),
    json("an unknown property", '{"isAdmin": true}'),
    json("__proto__", '{"__proto__": {"isAdmin": true}}'),
    json("constructor.prototype", '{"constructor": {"prototype": {"isAdmin": true}}}'),
    json("nested __proto__", '{"a": [{"b": {"__proto__": {"isAdmin": true}}}]}'),
    json("5,000 levels deep", `{"a":${"[".repeat(5_000)}${"]".repeat(5_000)}}`),
    json("an escaped NUL", '{"name": "a\\u0000b"}'),
    json("an unpaired surrogate", '{"name": "\\ud800 bad surrogate"}'),
    json("a raw NUL byte", '{"name": "a\u0000b"}'),
    json("a raw control character", '{"name": "a\u0007b\u001b[31m"}'),
    json("a number too big for a double", '{"n": 1e999}'),
    json("a body over the size limit", `{"name": "${"x".repeat(bodyLimit)}"}`),
    { name: "XML", text: "<xml/>", type: "application/xml" },
    { name: "a form", text: "name=x&isAdmin=1", type: "application/x-www-form-urlencoded" },
    { name: "JSON sent as text/plain", text: "{}", type: "text/plain" },
    { name: "a multipart body", text: "--x\r\n\r\n--x--", type: "multipart/form-data; boundary=x" },
    { name: "JSON in an odd charset", text: '{"isAdmin": 1}', type: "application/json; charset=utf-7" },
  ];
}

/** Hostile path parameter values: each a 4xx with the envelope, never a 500. */
export const PARAMS = [
  "..%2f..%2fetc%2fpasswd",
  "%00",
  "%E0%A4%A", // not a valid percent-encoding
  "%F0%9F%92%A9", // an emoji
  "x".repeat(300),
  "' OR 1=1 --",
  "usr_01ZZZZZZZZZZZZZZZZZZZZZZZZ",
  "%20",
  "__proto__",
  "constructor",
  "1e309",
  "-1",
] as const;

/** Hostile query strings every route refuses at validation (every route's query is closed). */
export const QUERIES = [
  "evil=%3Cscript%3E&__proto__%5Badmin%5D=1",
  "constructor%5Bprototype%5D%5Badmin%5D=1",
  "a%5Bb%5D%5Bc%5D%5Bd%5D=1",
  `x=${"y".repeat(5_000)}`,
  "%00=%00",
] as const;

/** Schema-valid values with hostile content: markup, SQL, bidi and zero-width controls, odd Unicode. */
const EVIL_STRINGS = [
  "<img src=x onerror=alert(1)> ' OR 1=1 -- \u202e\u0301 𝕏",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection probe, sent as text.
  "Robert'); DROP TABLE users;-- ${7*7} {{7*7}} %s%n",
  "\u200b\u200d\ufeff\u2028\u2029 zero-width and separators \u0007\u001b[31m",
  "Ｆｕｌｌｗｉｄｔｈ ﷽ Z̴̡̛̗a̶l̷g̸o̵ \u0130\u0131 ß ﬁ",
];
const EVIL_EMAILS = [
  "o'hara+<b>@example.org",
  "\u0430da@example.org", // a Cyrillic "a": a homoglyph of ada@
  "jose\u0301@example.org", // decomposed é
  "ada@example.org\u202e",
  '"quoted"@example.org',
];

/** Validators built as the server builds them (src/http/validation.ts): bodies as sent, queries coerced. */
type Build = (route: {
  schema: Schema;
  method: string;
  url: string;
  httpPart: string;
}) => (v: unknown) => unknown;
const compilers: Record<"body" | "query", Build> = {
  body: (AjvCompiler() as unknown as (e: object, o: object) => Build)(
    {},
    { customOptions: { ...AJV_OPTIONS, coerceTypes: false, strict: false } },
  ),
  // Not strict: a part of a schema is checked on its own here (a `default` at its root is then fine), and
  // without Ajv's strictNumbers, under which a query's "1e309" is coerced to Infinity and then passes
  // `maximum` (the server's setting today: a known defect in test/bad-input.test.ts).
  query: (AjvCompiler() as unknown as (e: object, o: object) => Build)(
    {},
    { customOptions: { ...AJV_OPTIONS, strict: false } },
  ),
};
const compiled = new Map<string, (v: unknown) => boolean>();

/** Whether `value` passes `schema` as the route's validation would. */
export function valid(schema: Schema, value: unknown, part: "body" | "query" = "body"): boolean {
  const key = `${part} ${JSON.stringify(schema)}`;
  let check = compiled.get(key);
  if (!check) {
    const fn = compilers[part]({
      schema,
      method: "POST",
      url: "/",
      httpPart: part === "body" ? "body" : "querystring",
    });
    check = (v) => fn(structuredClone(v)) === true;
    compiled.set(key, check);
  }
  return check(value);
}

const clone = <T>(v: T): T => structuredClone(v);

/** A value for `schema` from its examples (the document's), or the simplest value it accepts. */
export function exampleOf(schema: Schema): Json | undefined {
  if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0] as Json;
  if (schema.example !== undefined) return schema.example as Json;
  if (schema.type === "object") {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries((schema.properties ?? {}) as Record<string, Schema>)) {
      const e = exampleOf(v);
      if (e !== undefined) out[k] = e;
    }
    return out;
  }
  if (schema.type === "array") {
    const item = exampleOf((schema.items ?? {}) as Schema);
    return item === undefined ? [] : [item];
  }
  const members = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (members) return exampleOf(members[0]!);
  if (Array.isArray(schema.enum)) return schema.enum[0] as Json;
  if (schema.type === "integer" || schema.type === "number") return (schema.minimum as number) ?? 1;
  if (schema.type === "boolean") return false;
  return undefined;
}

/** Wrong-typed and out-of-range replacements for a value of `schema`. */
function wrongValues(schema: Schema): Json[] {
  const out: Json[] = [null, [], {}, [null], { $gt: "" }];
  const type = schema.type;
  if (type === "string") {
    out.push(42, true, "", " ", `${"x".repeat(Number(schema.maxLength ?? 10_000) + 1)}`);
    if (Array.isArray(schema.enum) || schema.anyOf) out.push("GOD", "owner", "OWNER ");
  } else if (type === "integer" || type === "number") {
    out.push("5", 1.5, -1, 1e300, -1e300, true, "NaN");
  } else if (type === "boolean") out.push("true", 1, 0, "false");
  else if (type === "array") out.push("x", 1, { 0: "a" }, [[[]]]);
  else if (schema.anyOf) out.push(42, "GOD", "owner", "OWNER ", "OWNER\u0000");
  return out;
}

/** One body mutation: what it does, and the body. */
export interface Mutation {
  readonly name: string;
  readonly body: Json;
}

/**
 * Invalid variants of `base` (a valid body for `schema`): each property replaced by wrong-typed and
 * out-of-range values, each required property left out, an unknown property added, the body wrapped in
 * an array; the same one level down in arrays of objects. Only variants the schema refuses are kept.
 */
export function invalidBodies(schema: Schema, base: Json): Mutation[] {
  const out: Mutation[] = [];
  const walk = (s: Schema, path: Array<string | number>) => {
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const [name, prop] of Object.entries(props)) {
      const at = [...path, name];
      for (const v of wrongValues(prop))
        out.push({ name: `${at.join(".")} = ${JSON.stringify(v).slice(0, 40)}`, body: setAt(base, at, v) });
      if (Array.isArray(s.required) && s.required.includes(name))
        out.push({ name: `${at.join(".")} left out`, body: setAt(base, at, undefined) });
      if (prop.type === "array" && (prop.items as Schema | undefined)?.type === "object") {
        const max = Number(prop.maxItems ?? 0);
        const item = getAt(base, [...at, 0]);
        if (max)
          out.push({
            name: `${at.join(".")} × ${max + 1}`,
            body: setAt(base, at, Array(max + 1).fill(item)),
          });
        walk(prop.items as Schema, [...at, 0]);
      }
    }
    out.push({
      name: `${path.join(".") || "body"} + isAdmin`,
      body: setAt(base, [...path, "isAdmin"], true),
    });
  };
  walk(schema, []);
  out.push({ name: "the body in an array", body: [base] });
  return out.filter((m) => !valid(schema, m.body));
}

/**
 * Valid variants of `base` whose strings carry hostile content: each free-text property (and each
 * patterned one, where the content still matches) replaced by markup, SQL, controls, odd Unicode, and
 * its longest value in astral characters. The schema accepts each, so each reaches the handler.
 */
export function hostileValidBodies(schema: Schema, base: Json, perField = 3): Mutation[] {
  const out: Mutation[] = [];
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  for (const [name, prop] of Object.entries(props)) {
    if (prop.type !== "string") continue;
    const candidates = /email/i.test(name) ? EVIL_EMAILS : [...EVIL_STRINGS];
    if (typeof prop.maxLength === "number" && !prop.pattern) candidates.push("𝕏".repeat(prop.maxLength));
    const kept = candidates
      .map((v) => ({ name: `${name} = ${JSON.stringify(v).slice(0, 40)}`, body: setAt(base, [name], v) }))
      .filter((m) => valid(schema, m.body));
    out.push(...kept.slice(0, perField));
  }
  return out;
}

/** Invalid query strings for a route's query schema: wrong types, out of range, repeated, unknown. */
export function invalidQueries(schema: Schema): string[] {
  const out: string[] = [];
  for (const [name, prop] of Object.entries((schema.properties ?? {}) as Record<string, Schema>)) {
    const values =
      prop.type === "integer" || prop.type === "number"
        ? ["abc", "-1", "1e309", "Infinity", "-Infinity", "NaN", "0x10", "1.5", "%00"]
        : ["x".repeat(Number(prop.maxLength ?? 500) + 1), "%00", "' OR 1=1 --"];
    for (const v of values) {
      const q = `${name}=${v}`;
      if (!valid(schema, { [name]: decodeURIComponent(v) }, "query")) out.push(q);
    }
    out.push(`${name}=1&${name}=2`);
  }
  return out;
}

/** Valid query strings with hostile content: each reaches the handler. */
export function hostileValidQueries(schema: Schema): string[] {
  const out: string[] = [];
  for (const name of Object.keys((schema.properties ?? {}) as Record<string, Schema>))
    for (const v of ["0x10", "1e1", "%20%205", "%00", "'%20OR%201=1%20--", "%E2%80%AE%3Cb%3E"])
      if (valid(schema, { [name]: decodeURIComponent(v) }, "query")) out.push(`${name}=${v}`);
  return out;
}

function getAt(value: Json, path: Array<string | number>): Json {
  let v: Json = value;
  for (const p of path) v = (v as Record<string, Json>)[p as string] as Json;
  return v;
}

/** A copy of `value` with the value at `path` replaced (`undefined`: removed). */
export function setAt(value: Json, path: Array<string | number>, next: Json | undefined): Json {
  const copy = clone(value);
  if (path.length === 0) return next as Json;
  let parent = copy as Record<string, Json>;
  for (const p of path.slice(0, -1)) parent = parent[p as string] as Record<string, Json>;
  const last = path[path.length - 1] as string;
  if (next === undefined) delete parent[last];
  else parent[last] = next;
  return copy;
}
