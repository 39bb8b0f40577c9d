import type { UploadConfig } from "../config/uploads.js";
import type { Database, Db } from "../db/database.js";
import { AppError } from "../http/errors.js";
import { newId } from "../util/ids.js";
import { keptKey, type ObjectStore, objectKey } from "./objects.js";
import { uploadStore as store } from "./store.js";
import type { UploadRow } from "./tables.js";

const DAY_MS = 86_400_000;

/** An upload as the API shows it. */
export interface UploadView {
  readonly id: string;
  readonly contentType: string;
  readonly size: number;
  readonly createdAt: string;
  readonly expiresAt: string;
  /** `pending` until the body is in the store, then `uploaded`; `attached` once something uses it. */
  readonly status: "pending" | "uploaded" | "attached";
}

/** A file attached to something of the organisation's: what an app keeps and shows. */
export interface AttachedUpload {
  readonly id: string;
  readonly contentType: string;
  readonly size: number;
}

/**
 * Pre-signed uploads (DATA-3): hands out links bound to the organisation's key prefix, one media type
 * from the allowlist and one exact size within the limit, for a few minutes, and records each link in
 * the organisation's scope. The API never sees the body: the browser sends it to the store, and an app
 * attaches the upload (by id) to its own rows once the store holds it.
 */
export class UploadService {
  constructor(
    private readonly db: Database,
    private readonly config: UploadConfig,
    readonly objects: ObjectStore,
    /**
     * The origin links point at when it is not Bulwark's own (a bucket's), read from a link the store
     * signed, so it is exactly where browsers send files (the console's CSP admits it).
     */
    readonly origin?: string,
    /** Counts an upload's bytes against the organisation's `upload_bytes` quota (RATE-6), before the link. */
    private readonly meter: (orgId: string, bytes: number) => Promise<unknown> = async () => undefined,
  ) {}

  /** A PUT link for a file of `contentType` and exactly `size` bytes, recorded in the organisation. */
  async create(
    orgId: string,
    actorId: string,
    file: { contentType: string; size: number },
    now: number,
  ): Promise<{ upload: UploadView; url: string }> {
    const contentType = file.contentType.toLowerCase();
    if (!this.config.contentTypes.includes(contentType))
      throw new AppError(
        "UPLOAD_NOT_ALLOWED",
        `Files of type ${contentType} are not accepted; allowed: ${this.config.contentTypes.join(", ")}.`,
      );
    if (file.size > this.config.maxBytes)
      throw new AppError("UPLOAD_NOT_ALLOWED", `Files over ${this.config.maxBytes} bytes are not accepted.`);
    // What a member may put in storage is bounded by the organisation's monthly allowance, if set.
    await this.meter(orgId, file.size);
    const id = newId("upl", now);
    const row: UploadRow = {
      id,
      org_id: orgId,
      object_key: objectKey(orgId, id),
      content_type: contentType,
      size: file.size,
      created_by: actorId,
      created_at: now,
      expires_at: now + this.config.ttlMs,
      attached_at: null,
    };
    const url = await this.objects.putUrl(row.object_key, contentType, file.size, now, row.expires_at);
    await this.db.withOrg(orgId, (tx) => store.insert(tx, row));
    return { upload: view(row, "pending"), url };
  }

  /** The organisation's upload, with whether its body has arrived. */
  async get(orgId: string, id: string): Promise<UploadView> {
    const row = await this.db.readOrg(orgId, (tx) => store.find(tx, orgId, id));
    if (!row) throw new AppError("NOT_FOUND");
    if (row.attached_at !== null) return view(row, "attached");
    const there =
      (await this.stored(row, row.object_key)) || (await this.stored(row, keptKey(row.object_key)));
    return view(row, there ? "uploaded" : "pending");
  }

  /**
   * Marks the organisation's upload as used (a product's image): it must exist in this organisation and
   * its body must be in the store with the announced size and type. UPLOAD_INCOMPLETE otherwise.
   */
  async attach(
    tx: Db,
    orgId: string,
    id: string,
    now: number,
    accept?: (contentType: string) => boolean,
  ): Promise<AttachedUpload> {
    const row = await store.find(tx, orgId, id);
    if (!row) throw new AppError("UPLOAD_UNKNOWN");
    if (accept && !accept(row.content_type))
      throw new AppError("UPLOAD_NOT_ALLOWED", `A file of type ${row.content_type} is not accepted here.`);
    if (row.attached_at === null) {
      const kept = keptKey(row.object_key);
      // Kept already (an attach that rolled back after moving it, or one running at the same time):
      // nothing more to move. The move is outside the transaction; status and the sweep see both keys.
      if (!(await this.stored(row, kept))) {
        if (!(await this.stored(row, row.object_key))) throw new AppError("UPLOAD_INCOMPLETE");
        await this.objects.keep(row.object_key, kept).catch(async (err: unknown) => {
          if (!(await this.stored(row, kept))) throw err;
        });
      }
      // Swept between the read and now: the product must not name an upload that no longer exists.
      if (!(await store.markAttached(tx, orgId, id, now))) throw new AppError("UPLOAD_UNKNOWN");
    }
    return { id: row.id, contentType: row.content_type, size: row.size };
  }

  /** A short-lived link that reads the organisation's upload (undefined when it has none by that id). */
  async downloadUrl(tx: Db, orgId: string, id: string, now: number): Promise<string | undefined> {
    const row = await store.find(tx, orgId, id);
    if (!row) return undefined;
    // An attached file is read from where it is kept; before that, from where its link put it.
    const key = row.attached_at === null ? row.object_key : keptKey(row.object_key);
    return this.objects.getUrl(key, row.content_type, now, now + this.config.ttlMs);
  }

  /**
   * Deletes the files and records of uploads nobody attached, a day after their link expired (the job
   * `uploads.sweep`): storage holds only what the organisations' rows use, and what is being uploaded.
   */
  async sweep(now: number): Promise<number> {
    let removed = 0;
    let after = "";
    for (;;) {
      const orgs = await store.orgs(this.db.global, after, 200);
      if (orgs.length === 0) return removed;
      for (const orgId of orgs)
        for (;;) {
          const unused = await this.db.readOrg(orgId, (tx) => store.unused(tx, orgId, now - DAY_MS, 500));
          for (const row of unused) {
            // The files first (where the link put it, and where an attach that rolled back moved it): a
            // record without its file reads as never uploaded, never the reverse.
            await this.objects.remove(row.object_key);
            await this.objects.remove(keptKey(row.object_key));
            await this.db.withOrg(orgId, (tx) => store.remove(tx, orgId, row.id));
            removed++;
          }
          if (unused.length < 500) break;
        }
      after = orgs[orgs.length - 1]!;
    }
  }

  private async stored(row: UploadRow, key: string): Promise<boolean> {
    const found = await this.objects.head(key);
    return found !== undefined && found.size === row.size && found.contentType === row.content_type;
  }
}

const view = (row: UploadRow, status: UploadView["status"]): UploadView => ({
  id: row.id,
  contentType: row.content_type,
  size: row.size,
  createdAt: new Date(row.created_at).toISOString(),
  expiresAt: new Date(row.expires_at).toISOString(),
  status,
});
