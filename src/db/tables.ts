/**
 * The typed table map. Each capability's store augments it with its own tables:
 *
 *   declare module "../db/tables.js" { interface Tables { users: UserRow } }
 *
 * Any table with an `org_id` column is a tenant table (AUTHZ-2): the data layer only reaches it inside
 * `withOrg`, and on PostgreSQL it must have forced row-level security or the server refuses to start.
 */
// biome-ignore lint/suspicious/noEmptyInterface: augmented by capability stores.
export interface Tables {}
