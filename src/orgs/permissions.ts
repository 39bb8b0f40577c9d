/**
 * The one permission table (AUTHZ-1): organisation + role + action. Every tenant route declares its
 * action and the tenant check asks `can(role, action)`; nothing else grants access. The core actions are
 * below; an extension adds its own (with the roles granted each) through `Extension.actions`, and their
 * names to the `Action` type with `declare module "bulwark" { interface Actions { "notes:read": true } }`.
 * docs/permissions.md shows the core table; a test keeps it identical.
 */
export const ROLES = ["OWNER", "ADMIN", "MEMBER", "VIEWER"] as const;
export type Role = (typeof ROLES)[number];

/** Every action's name, as a type. Augment it to add an extension's actions. */
export interface Actions {
  "org:read": true;
  "org:update": true;
  "org:delete": true;
  "members:read": true;
  "members:invite": true;
  "members:update": true;
  "members:remove": true;
  "apikeys:manage": true;
  "audit:read": true;
  "audit:write": true;
  "webhooks:manage": true;
  "webhooks:write": true;
  "oidc:manage": true;
  "usage:record": true;
  "uploads:write": true;
}
export type Action = keyof Actions & string;

const ALL: readonly Role[] = ROLES;
const MANAGERS: readonly Role[] = ["OWNER", "ADMIN"];

/** The core grants. OWNER holds every action, always (also an extension's). */
const CORE: Readonly<Record<string, readonly Role[]>> = {
  "org:read": ALL,
  "org:update": MANAGERS,
  "org:delete": ["OWNER"],
  "members:read": ALL,
  "members:invite": MANAGERS,
  "members:update": MANAGERS,
  "members:remove": MANAGERS,
  "apikeys:manage": MANAGERS,
  "audit:read": MANAGERS,
  // An app's own audit events (AUDIT-2), recorded with an API key holding this scope.
  "audit:write": MANAGERS,
  "webhooks:manage": MANAGERS,
  // An app's own webhook events (HOOK-1), sent with an API key holding this scope.
  "webhooks:write": MANAGERS,
  // The organisation's OpenID Connect clients (AUTH-10): who may sign its members in to which app.
  "oidc:manage": MANAGERS,
  // An app's own metered units (RATE-6), recorded with an API key holding this scope.
  "usage:record": MANAGERS,
  // Upload links (DATA-3): whoever writes content may attach files to it.
  "uploads:write": ["ADMIN", "MEMBER"],
};
export const CORE_ACTIONS: readonly Action[] = Object.keys(CORE) as Action[];

const ACTION_SHAPE = /^[a-z][a-z0-9-]{0,30}:[a-z][a-z0-9-]{0,30}$/;

export const isRole = (v: string): v is Role => (ROLES as readonly string[]).includes(v);

/** Grants per action. Built once at start-up, read on every tenant request. */
export class PermissionTable {
  private readonly grants = new Map<string, ReadonlySet<Role>>();

  constructor() {
    this.add(CORE, "core");
  }

  /**
   * Adds actions with the roles granted each. An action is defined once (an extension cannot widen a
   * core action or another extension's); OWNER is granted every action whatever the list says.
   */
  add(actions: Readonly<Record<string, readonly Role[]>>, owner: string): void {
    for (const [action, roles] of Object.entries(actions)) {
      if (!ACTION_SHAPE.test(action))
        throw new Error(`${owner}: action "${action}" must look like resource:verb (lower case)`);
      if (this.grants.has(action)) throw new Error(`${owner}: action "${action}" is already defined`);
      for (const r of roles) if (!isRole(r)) throw new Error(`${owner}: "${r}" is not a role (${action})`);
      this.grants.set(action, new Set<Role>(["OWNER", ...roles]));
    }
  }

  has(action: string): boolean {
    return this.grants.has(action);
  }

  can(role: Role, action: string): boolean {
    return this.grants.get(action)?.has(role) ?? false;
  }

  /** Every action, core first, in declaration order. */
  get actions(): readonly string[] {
    return [...this.grants.keys()];
  }

  /** The table as Markdown (docs/permissions.md shows the core one). */
  markdown(actions: readonly string[] = this.actions): string {
    const head = `| action | ${ROLES.join(" | ")} |\n|---|${ROLES.map(() => "---").join("|")}|`;
    const rows = actions.map(
      (a) => `| \`${a}\` | ${ROLES.map((r) => (this.can(r, a) ? "yes" : "—")).join(" | ")} |`,
    );
    return [head, ...rows].join("\n");
  }
}
