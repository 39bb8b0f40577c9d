/** An operation and the document as @fastify/swagger builds them, as far as `finish` reads them. */
interface Op {
  security?: object[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Record<string, unknown> }> };
}
type Doc = { paths?: Record<string, Record<string, Op>>; components?: Record<string, unknown> };

/**
 * A body whose fields are all optional may be left out (src/http/validation.ts); @fastify/swagger marks
 * every body required. An empty object is what it then stands for, unless the schema needs a property.
 */
function optionalBodies(doc: Doc): void {
  for (const ops of Object.values(doc.paths ?? {}))
    for (const op of Object.values(ops)) {
      const schema = op.requestBody?.content?.["application/json"]?.schema;
      if (!op.requestBody || !schema || schema.type !== "object") continue;
      const required = Array.isArray(schema.required) && schema.required.length > 0;
      if (!required && !(Number(schema.minProperties) > 0)) op.requestBody.required = false;
    }
}

/**
 * The document as published: optional bodies marked so, and only the security schemes some operation uses
 * (a scheme no route accepts is not offered, nor shown in /docs).
 */
export function finish<T>(doc: T): T {
  const d = doc as Doc;
  optionalBodies(d);
  const schemes = (d.components?.securitySchemes ?? {}) as Record<string, unknown>;
  const used = new Set(
    Object.values(d.paths ?? {}).flatMap((ops) =>
      Object.values(ops).flatMap((op) => (op.security ?? []).flatMap((s) => Object.keys(s))),
    ),
  );
  const kept = Object.fromEntries(Object.entries(schemes).filter(([name]) => used.has(name)));
  return { ...d, components: { ...d.components, securitySchemes: kept } } as T;
}
