/** An account's request to be deleted (GDPR-2): erased by the job once `due_at` has passed. */
export interface AccountDeletionRow {
  user_id: string;
  /** `anon_…`, chosen at the request: what the organisations' rows and the audit log keep instead. */
  pseudonym: string;
  requested_at: number;
  due_at: number;
}

declare module "../db/tables.js" {
  interface Tables {
    account_deletions: AccountDeletionRow;
  }
}
