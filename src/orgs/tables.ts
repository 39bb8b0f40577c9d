import type { Role } from "./permissions.js";

/** An organisation (tenant). A global table: its id is what every tenant row's `org_id` points to. */
export interface OrganizationRow {
  id: string;
  name: string;
  slug: string;
  /** AUTH-8: members must have a second factor to reach any of the organisation's routes. */
  require_mfa: number;
  created_at: number;
  updated_at: number;
}

/**
 * Who belongs to which organisation, with which role. It carries `org_id` but is deliberately not
 * tenant-scoped (see Database.tenantExempt): it is read to decide which tenant context a principal may
 * enter, before any context exists. Only the organisations service writes it.
 */
export interface MembershipRow {
  org_id: string;
  user_id: string;
  role: Role;
  created_at: number;
}

declare module "../db/tables.js" {
  interface Tables {
    organizations: OrganizationRow;
    memberships: MembershipRow;
  }
}
