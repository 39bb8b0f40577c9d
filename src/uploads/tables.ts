/**
 * An upload link handed out (DATA-3): what it was bound to. The body itself is in the object store under
 * `object_key`; the row says which organisation owns it and whether something uses it yet.
 */
export interface UploadRow {
  id: string;
  org_id: string;
  /** `orgs/<org_id>/<id>`: the link can write nowhere else. */
  object_key: string;
  content_type: string;
  size: number;
  /** The principal that asked for the link (a user or an API key). */
  created_by: string;
  created_at: number;
  /** When the upload link stops working. */
  expires_at: number;
  /** When an app attached the file to something of its own (a product's image); null while unused. */
  attached_at: number | null;
}

declare module "../db/tables.js" {
  interface Tables {
    uploads: UploadRow;
  }
}
