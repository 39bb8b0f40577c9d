/**
 * Where a person's data lives (GDPR-1, GDPR-2): each capability declares the columns of its tables that
 * name a user, as it declares its sealed columns, so the export (and erasure) of an account walks every
 * table that holds one without knowing the capabilities. A table may be declared more than once, once
 * per column that names a person (invitations: the invitee's address, the inviter's id).
 */
export interface PersonalData {
  readonly table: string;
  /** The column that names the person. */
  readonly column: string;
  /**
   * How `column` names them: `id` (default), the user's id; `email`, their address; `mentions`, text (a
   * JSON document, a principal's name) containing their id or their address; `via`, the id of a row of
   * another table whose `column` is their id (a refresh token's family).
   */
  readonly match?:
    | "id"
    | "email"
    | "mentions"
    | { readonly via: { readonly table: string; readonly column: string } };
  /**
   * What an account's erasure (GDPR-2) does to the rows: `delete` them (default); `pseudonymise` them,
   * rows that belong to an organisation and stay (an API key the person created): an `id` column becomes
   * the account's pseudonym, a `mentions` text has the id, address and name replaced; `account`: the
   * account's own row, deleted last, with its deletion request; `owner`: the capability that owns the
   * table erases them through its service (the audit log, whose entries must keep verifying).
   */
  readonly erase?: "delete" | "pseudonymise" | "account" | "owner";
  /** Extra equalities a row must meet (an audit entry about a user: `entity_type = 'user'`). */
  readonly where?: Readonly<Record<string, string>>;
  /** A tenant table: read in each organisation's scope (row-level security on PostgreSQL). */
  readonly tenant?: boolean;
  /**
   * Columns never exported: secrets and their hashes, tokens, and other people's ids in rows that are
   * the user's only on the side of `column`. The export lists them, so nothing is withheld silently.
   */
  readonly omit?: readonly string[];
  /** Columns holding JSON text: exported parsed. */
  readonly json?: readonly string[];
  /**
   * Reshapes a row for the person, after `json` parsing: what only its owner may see of a row that names
   * others too (an audit entry of a colleague's action about the person loses the colleague's address).
   */
  readonly shape?: (row: Record<string, unknown>, personId: string) => Record<string, unknown>;
}

/** The export's name for a declaration's rows: the table, qualified by the column when not the usual one. */
export const sectionOf = (p: PersonalData): string =>
  ["id", "user_id", "principal_id"].includes(p.column) && !p.where ? p.table : `${p.table}.${p.column}`;
