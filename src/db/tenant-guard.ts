import type {
  KyselyPlugin,
  OperationNode,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from "kysely";
import { AppError } from "../http/errors.js";

/**
 * The first wall of tenant isolation (AUTHZ-2), on both engines: a Kysely plugin on the global handle that
 * refuses any statement naming a tenant table, raw SQL included. Tenant tables are reachable only through
 * `withOrg`, whose handle does not carry this plugin. It fails loudly (500 and a log line), because
 * reaching it is a bug in Bulwark, never something a client can cause.
 */
export class TenantGuard implements KyselyPlugin {
  private tables: ReadonlySet<string> = new Set();
  private rawPattern: RegExp | null = null;

  setTenantTables(tables: Iterable<string>): void {
    this.tables = new Set(tables);
    const names = [...this.tables].map((t) => t.replace(/[^a-z0-9_]/gi, ""));
    this.rawPattern = names.length
      ? new RegExp(`(^|[^a-z0-9_"])"?(${names.join("|")})"?($|[^a-z0-9_"])`, "i")
      : null;
  }

  get tenantTables(): ReadonlySet<string> {
    return this.tables;
  }

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (this.tables.size > 0) {
      const hit = this.find(args.node);
      if (hit)
        throw new AppError(
          "TENANT_CONTEXT_REQUIRED",
          `Tenant table "${hit}" queried without an organisation context (use withOrg).`,
        );
    }
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }

  private find(node: unknown): string | null {
    if (!node || typeof node !== "object") return null;
    if (Array.isArray(node)) {
      for (const n of node) {
        const hit = this.find(n);
        if (hit) return hit;
      }
      return null;
    }
    const n = node as OperationNode & Record<string, unknown>;
    if (n.kind === "TableNode") {
      const name = (n as unknown as { table: { identifier: { name: string } } }).table.identifier.name;
      return this.tables.has(name) ? name : null;
    }
    if (n.kind === "RawNode" && this.rawPattern) {
      const text = (n as unknown as { sqlFragments: readonly string[] }).sqlFragments.join(" ");
      const m = this.rawPattern.exec(text);
      if (m) return m[2] ?? "?";
    }
    for (const key in n) {
      if (key === "kind") continue;
      const hit = this.find(n[key]);
      if (hit) return hit;
    }
    return null;
  }
}
