import {
  type AliasNode,
  type ColumnNode,
  type ColumnUpdateNode,
  type InsertQueryNode,
  type OperationNode,
  type RawNode,
  ReferenceNode,
  type SelectQueryNode,
  type ValueNode,
  WhereNode,
} from "kysely";
import {
  AS_WHERE,
  and,
  freeze,
  isRef,
  type Mode,
  NONE,
  SKIP_INTO,
  TenantScopeError,
} from "./tenant-scope-rules.js";

/** What the write rules need of the scope that walks the statement (TenantScope). */
export interface WriteScope {
  readonly orgId: string;
  readonly tables: ReadonlySet<string>;
  children<T extends OperationNode>(node: T, mode: Mode, skip?: ReadonlySet<string>): T;
  /** `<alias or table>.org_id = ?` for a FROM-like item naming a tenant table, else undefined. */
  pred(item: OperationNode): OperationNode | undefined;
  keyOf(item: OperationNode): string | undefined;
}

/**
 * INSERT into a tenant table (AUTHZ-2): every row's org_id is this organisation (a value, or in
 * `insert … select` this value or the org_id of a scoped tenant table); REPLACE and ON DUPLICATE KEY are
 * refused (they overwrite whichever row conflicts); ON CONFLICT DO UPDATE may set org_id only to this
 * organisation and gets the scope's predicate in its WHERE, so a conflict with another organisation's
 * row updates nothing.
 */
export function scopeInsert(s: WriteScope, node: InsertQueryNode): InsertQueryNode {
  const into = node.into;
  const table = into?.table.identifier.name;
  if (!into || !table || !s.tables.has(table)) return s.children(node, NONE);
  const refuse = (rule: string, detail: string) => new TenantScopeError(table, rule, detail);
  if (node.replace || node.orAction?.action.toLowerCase() === "replace" || node.onDuplicateKey)
    throw refuse("insert-overwrite", "REPLACE / ON DUPLICATE KEY may overwrite another organisation's row");
  let at = -1;
  for (let i = 0; i < (node.columns?.length ?? 0); i++)
    if (node.columns?.[i]?.column.name === "org_id") at = i;
  if (at < 0) throw refuse("insert-org-id", "insert without an org_id column");
  const out = s.children(node, NONE, SKIP_INTO);
  const values = out.values;
  if (values?.kind === "ValuesNode") {
    for (const row of (values as unknown as { values: ReadonlyArray<OperationNode> }).values) {
      const v = (row as unknown as { values: readonly unknown[] }).values[at];
      const ok = row.kind === "PrimitiveValueListNode" ? v === s.orgId : isOrg(s.orgId, v as OperationNode);
      if (!ok) throw refuse("insert-org-id", "a row's org_id is not the scope's organisation");
    }
  } else if (!values || !selectGivesOrg(s, values, at)) {
    throw refuse(
      "insert-org-id",
      "insert … select whose org_id is not the scope's organisation or a scoped org_id",
    );
  }
  const conflict = out.onConflict;
  if (!conflict?.updates?.length) return out;
  checkSets(s.orgId, table, conflict.updates, true);
  // The row in conflict may be another organisation's: the update must not reach it.
  const updateWhere = WhereNode.create(and(conflict.updateWhere?.where, [s.pred(into)!]));
  return freeze({ ...out, onConflict: freeze({ ...conflict, updateWhere }) });
}

/** An UPDATE or ON CONFLICT update may set org_id only to this organisation (or keep the new row's). */
export function checkSets(
  orgId: string,
  table: string,
  sets: ReadonlyArray<ColumnUpdateNode> | undefined,
  excluded: boolean,
): void {
  for (const u of sets ?? []) {
    const c = u.column.kind === "ReferenceNode" ? (u.column as ReferenceNode).column : u.column;
    if (c.kind !== "ColumnNode" || (c as ColumnNode).column.name !== "org_id") continue;
    if (isOrg(orgId, u.value) || (excluded && isRef(u.value, "org_id", "excluded"))) continue;
    throw new TenantScopeError(
      table,
      "update-org-id",
      "sets org_id to something other than the scope's organisation",
    );
  }
}

/** The scope's organisation as a value: `eb.val`, `sql.val` or `sql.lit` (a RawNode around one value). */
function isOrg(orgId: string, v: OperationNode | undefined): boolean {
  if (v?.kind === "RawNode") {
    const r = v as RawNode;
    if (r.parameters.length === 1 && r.sqlFragments.every((f) => f === "")) v = r.parameters[0];
  }
  return v?.kind === "ValueNode" && (v as ValueNode).value === orgId;
}

/** In `insert … select`, the org_id column is this organisation's value or a scoped tenant org_id. */
function selectGivesOrg(s: WriteScope, node: OperationNode, at: number): boolean {
  if (node.kind !== "SelectQueryNode") return false;
  const q = node as SelectQueryNode;
  const sels = q.selections ?? [];
  for (const x of sels) {
    const e = x.selection;
    if (e.kind === "SelectAllNode" || (e.kind === "ReferenceNode" && e.column.kind === "SelectAllNode"))
      return false; // positions unknown
  }
  const sel = sels[at]?.selection;
  const e = sel?.kind === "AliasNode" ? (sel as AliasNode).node : sel;
  let ok = isOrg(s.orgId, e);
  if (!ok && e && (e.kind === "ReferenceNode" || e.kind === "ColumnNode")) {
    const r = e.kind === "ReferenceNode" ? (e as ReferenceNode) : ReferenceNode.create(e as ColumnNode);
    const joins = q.joins ?? [];
    const inner = joins.every((j) => AS_WHERE.has(j.joinType));
    const tables = [...(q.from?.froms ?? []), ...joins.map((j) => j.table)];
    if (r.column.kind === "ColumnNode" && r.column.column.name === "org_id" && inner) {
      const t = r.table?.table;
      const key = t ? (t.schema ? `${t.schema.name}\0${t.identifier.name}` : t.identifier.name) : undefined;
      ok = key
        ? tables.some((x) => s.keyOf(x) === key)
        : tables.length === 1 && s.keyOf(tables[0]!) !== undefined;
    }
  }
  return ok && (q.setOperations ?? []).every((op) => selectGivesOrg(s, op.expression, at));
}
