import {
  AndNode,
  ColumnNode,
  type OperationNode,
  OperatorNode,
  ParensNode,
  type RawBuilder,
  type ReferenceNode,
} from "kysely";

/* The shared vocabulary of the tenant scope (AUTHZ-2): its error, the raw-SQL escape hatch, the walk's
   modes and the small node helpers. The rewriting lives in tenant-scope.ts (reads, updates, deletes)
   and tenant-scope-writes.ts (inserts and the org_id rules of writes). */

/**
 * A statement the tenant scope refuses. Always a bug in the calling code, never client input: the app
 * maps it to a 500 and logs it. `table` names the tenant table, `rule` the guarantee that would break.
 */
export class TenantScopeError extends Error {
  override name = "TenantScopeError";
  constructor(
    readonly table: string,
    readonly rule: string,
    detail: string,
  ) {
    super(`Tenant scope (AUTHZ-2), table "${table}": ${detail} [${rule}]`);
  }
}

/** RawNodes vouched for by `checkedSql`: identity, so only that call can mark one. */
export const CHECKED = new WeakSet<OperationNode>();

/**
 * Marks raw SQL that names a tenant table as scoped by hand, with the reason, e.g.
 * `checkedSql(sql\`select … from notes where org_id = ${orgId}\`, "filters by org_id itself")`.
 * Deliberate and visible in review; everything the fragment embeds is exempt from the name check, but
 * query builders embedded in it are still scoped. A builder with its own plugins (`withPlugin`) loses the
 * mark: refused, never let through.
 */
export function checkedSql<T>(query: RawBuilder<T>, reason: string): RawBuilder<T> {
  if (!reason.trim()) throw new TypeError("checkedSql: give the reason the raw SQL is tenant-safe");
  CHECKED.add(query.toOperationNode());
  return query;
}

export const ORG_COLUMN = ColumnNode.create("org_id");
export const EQ = OperatorNode.create("=");
export const NONE = 0; // ordinary query tree
export const RAW = 1; // inside raw SQL nobody vouched for
export const VOUCHED = 2; // inside checkedSql
export type Mode = 0 | 1 | 2;
export const SKIP_FROM = new Set(["from", "joins"]);
export const SKIP_UPDATE = new Set(["table", "from", "joins"]);
export const SKIP_DELETE = new Set(["from", "using", "joins"]);
export const SKIP_INTO = new Set(["into"]);
export const AS_WHERE = new Set([
  "InnerJoin",
  "CrossJoin",
  "LateralInnerJoin",
  "LateralCrossJoin",
  "CrossApply",
]);
export const AS_ON = new Set(["LeftJoin", "LateralLeftJoin"]);
export const isNode = (v: unknown): v is OperationNode =>
  typeof v === "object" && v !== null && typeof (v as { kind?: unknown }).kind === "string";
export const freeze = <T>(o: T): T => Object.freeze(o);

export function rawError(table: string): TenantScopeError {
  return new TenantScopeError(
    table,
    "raw-sql",
    "raw SQL names a tenant table; use the query builder, or filter by org_id and wrap it in checkedSql",
  );
}

/** `existing` (parenthesised, so an OR in it stays inside) AND each predicate. */
export function and(existing: OperationNode | undefined, preds: readonly OperationNode[]): OperationNode {
  let acc = existing && (existing.kind === "ParensNode" ? existing : ParensNode.create(existing));
  for (const p of preds) acc = acc ? AndNode.create(acc, p) : p;
  return acc!;
}

export function isRef(v: OperationNode, column: string, table: string): boolean {
  if (v.kind !== "ReferenceNode") return false;
  const r = v as ReferenceNode;
  return (
    r.column.kind === "ColumnNode" &&
    r.column.column.name === column &&
    r.table?.table.identifier.name === table
  );
}
