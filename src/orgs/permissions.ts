/**
 * The one permission table (AUTHZ-1): organisation + role + action. Every tenant route declares its
 * action and the tenant guard asks `can(role, action)`; nothing else grants access. Shown in
 * docs/permissions.md, which a test keeps identical to this table.
 */
export const ROLES = ["OWNER", "ADMIN", "MEMBER", "VIEWER"] as const;
export type Role = (typeof ROLES)[number];

export const ACTIONS = [
  "org:read",
  "org:update",
  "org:delete",
  "members:read",
  "members:invite",
  "members:update",
  "members:remove",
  "apikeys:manage",
  "audit:read",
  "webhooks:manage",
  "products:read",
  "products:write",
  "orders:read",
  "orders:write",
] as const;
export type Action = (typeof ACTIONS)[number];

const READS: readonly Action[] = ["org:read", "members:read", "products:read", "orders:read"];
const WRITES: readonly Action[] = ["products:write", "orders:write"];
const MANAGE: readonly Action[] = [
  "org:update",
  "members:invite",
  "members:update",
  "members:remove",
  "apikeys:manage",
  "audit:read",
  "webhooks:manage",
];

export const PERMISSIONS: Readonly<Record<Role, ReadonlySet<Action>>> = {
  OWNER: new Set(ACTIONS),
  ADMIN: new Set([...READS, ...WRITES, ...MANAGE]),
  MEMBER: new Set([...READS, ...WRITES]),
  VIEWER: new Set(READS),
};

export function can(role: Role, action: Action): boolean {
  return PERMISSIONS[role].has(action);
}

export const isRole = (v: string): v is Role => (ROLES as readonly string[]).includes(v);
export const isAction = (v: string): v is Action => (ACTIONS as readonly string[]).includes(v);

/** The table as Markdown, for docs/permissions.md. */
export function permissionsMarkdown(): string {
  const head = `| action | ${ROLES.join(" | ")} |\n|---|${ROLES.map(() => "---").join("|")}|`;
  const rows = ACTIONS.map(
    (a) => `| \`${a}\` | ${ROLES.map((r) => (can(r, a) ? "yes" : "—")).join(" | ")} |`,
  );
  return [head, ...rows].join("\n");
}
