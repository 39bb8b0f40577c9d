import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { copyFile, link, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AppError } from "../http/errors.js";
import type { ObjectStore, StoredObject } from "./objects.js";

/** The storage route's path for a key; the key is `orgs/<orgId>/<uploadId>`. */
export const STORAGE_PATH = "/v1/storage";
/** An upload's key (PUT and GET links), and an attached upload's kept key (GET links only). */
const KEY = /^orgs\/[A-Za-z0-9_-]{1,40}\/upl_[0-9A-Z]{26}$/;
const KEPT = /^orgs\/[A-Za-z0-9_-]{1,40}\/upl_[0-9A-Z]{26}\.kept$/;

/** What a valid link allows: the method it was signed for, and for a PUT the exact type and length. */
export interface LinkGrant {
  readonly contentType: string;
  readonly length: number | undefined;
}

/**
 * The embedded object store (DATA-3): files under the data directory, behind links Bulwark signs and
 * serves itself with the checks S3 makes. A link is an HMAC-SHA256 (key derived from BULWARK_SECRET) over
 * the method, the key, the media type, the exact length (PUT) and the expiry, so no part of it can be
 * changed. A write goes to a temporary file and is renamed into place only when exactly the signed
 * number of bytes arrived, so a cut-off or oversized body never becomes an object.
 */
export class LocalObjectStore implements ObjectStore {
  readonly kind = "local" as const;

  constructor(
    private readonly dir: string,
    private readonly publicUrl: string,
    private readonly key: Buffer,
  ) {}

  async putUrl(key: string, contentType: string, size: number, _now: number, expiresAt: number) {
    return this.link("PUT", key, contentType, size, expiresAt);
  }

  async getUrl(key: string, contentType: string, _now: number, expiresAt: number) {
    return this.link("GET", key, contentType, undefined, expiresAt);
  }

  private link(method: string, key: string, type: string, length: number | undefined, expires: number) {
    const q = new URLSearchParams({ type, ...(length !== undefined ? { length: String(length) } : {}) });
    q.set("expires", String(expires));
    q.set("signature", this.sign(method, key, type, length, expires));
    return `${this.publicUrl}${STORAGE_PATH}/${key}?${q}`;
  }

  private sign(method: string, key: string, type: string, length: number | undefined, expires: number) {
    return createHmac("sha256", this.key)
      .update(["bulwark-upload-v1", method, key, type, length ?? "", expires].join("\n"))
      .digest("base64url");
  }

  /**
   * Checks a link against the request it came with: signature, expiry (by `now`), and for a PUT the
   * Content-Type and Content-Length the link was signed for. Throws the error the caller answers with.
   */
  verify(
    method: "GET" | "PUT",
    key: string,
    query: Record<string, string | undefined>,
    now: number,
  ): LinkGrant {
    const { type, length, expires, signature } = query;
    const expiresAt = Number(expires);
    const len = length === undefined ? undefined : Number(length);
    const shape = method === "PUT" ? KEY.test(key) : KEY.test(key) || KEPT.test(key);
    if (!shape || !type || !signature || !Number.isSafeInteger(expiresAt))
      throw new AppError("UPLOAD_LINK_INVALID");
    if (method === "PUT" && !(len !== undefined && Number.isSafeInteger(len) && len >= 0))
      throw new AppError("UPLOAD_LINK_INVALID");
    const want = Buffer.from(this.sign(method, key, type, len, expiresAt));
    const got = Buffer.from(signature);
    if (want.length !== got.length || !timingSafeEqual(want, got)) throw new AppError("UPLOAD_LINK_INVALID");
    if (now >= expiresAt) throw new AppError("UPLOAD_LINK_INVALID", "This link has expired.");
    return { contentType: type, length: len };
  }

  private path(key: string): string {
    if (!KEY.test(key) && !KEPT.test(key)) throw new AppError("UPLOAD_LINK_INVALID");
    return join(this.dir, key);
  }

  /**
   * Stores exactly `length` bytes of `body` at `key`. More bytes than that stop the write at once
   * (PAYLOAD_TOO_LARGE); fewer (the client went away) leave nothing behind.
   */
  async write(key: string, body: Readable, contentType: string, length: number): Promise<void> {
    if (!KEY.test(key)) throw new AppError("UPLOAD_LINK_INVALID");
    const file = this.path(key);
    await mkdir(dirname(file), { recursive: true });
    const part = `${file}.${randomBytes(6).toString("hex")}.part`;
    let seen = 0;
    try {
      await pipeline(
        body,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            seen += chunk.length;
            if (seen > length) throw new AppError("PAYLOAD_TOO_LARGE", `This link takes ${length} bytes.`);
            yield chunk;
          }
        },
        createWriteStream(part, { flags: "wx", mode: 0o600 }),
      );
      if (seen !== length)
        throw new AppError("BAD_REQUEST", `The body has ${seen} bytes; this link takes ${length}.`);
      // The metadata first: an object exists (head) only once its body is in place beside it.
      await writeFile(`${file}.meta`, JSON.stringify({ contentType, size: length }), { mode: 0o600 });
      await rename(part, file);
    } catch (err) {
      // The client went away mid-body: its request failed, not the server.
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ECONNRESET" || code === "ERR_STREAM_PREMATURE_CLOSE")
        throw new AppError("BAD_REQUEST", "The upload was cut short.");
      throw err;
    } finally {
      await rm(part, { force: true });
    }
  }

  /** The object's bytes, or undefined when there is none. */
  async read(key: string): Promise<{ body: Readable; size: number } | undefined> {
    const found = await this.head(key);
    if (!found) return undefined;
    return { body: createReadStream(this.path(key)), size: found.size };
  }

  async head(key: string): Promise<StoredObject | undefined> {
    const file = this.path(key);
    try {
      const meta = JSON.parse(await readFile(`${file}.meta`, "utf8")) as StoredObject;
      const s = await stat(file);
      return s.size === meta.size ? meta : undefined;
    } catch {
      return undefined;
    }
  }

  async keep(key: string, kept: string): Promise<void> {
    const [from, to] = [this.path(key), this.path(kept)];
    await copyFile(`${from}.meta`, `${to}.meta`);
    // A hard link: the same bytes under the kept name (no copy); then the upload's own name goes, so a
    // later PUT through the link writes a new file that nothing uses.
    await link(from, to).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "EEXIST") throw err;
    });
    await this.remove(key);
  }

  async remove(key: string): Promise<void> {
    const file = this.path(key);
    await rm(file, { force: true });
    await rm(`${file}.meta`, { force: true });
  }

  async ping(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await stat(this.dir);
  }
}
