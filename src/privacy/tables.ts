/** An account's request to be deleted (GDPR-2): erased by the job once `due_at` has passed. */
export interface AccountDeletionRow {
  user_id: string;
  /** `anon_…`, chosen at the request: what the organisations' rows and the audit log keep instead. */
  pseudonym: string;
  requested_at: number;
  due_at: number;
  /**
   * Set when the erasure job takes the request on (the account is then retired and the request can no
   * longer be cancelled), with the address and name it erases: the account's row no longer holds them.
   */
  claimed_at: number | null;
  email: string | null;
  name: string | null;
}

declare module "../db/tables.js" {
  interface Tables {
    account_deletions: AccountDeletionRow;
  }
}
