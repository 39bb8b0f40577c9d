/**
 * Platform staff (AUTHZ-3): a table of their own, not a tenant role, so no organisation setting, role
 * change or membership can ever make a tenant user an admin.
 */
export interface AdminRow {
  id: string;
  email: string;
  password_hash: string;
  created_at: number;
  updated_at: number;
}

declare module "../db/tables.js" {
  interface Tables {
    platform_admins: AdminRow;
  }
}
