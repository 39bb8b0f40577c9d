import { join, resolve } from "node:path";
import type { VarReader } from "./reader.js";

/** Where pre-signed uploads go (DATA-3), and what a link may carry. */
export interface UploadConfig {
  /** An S3 bucket, or the local-disk store under `dir`. */
  readonly store: { readonly kind: "s3"; readonly bucket: string } | { readonly kind: "local" };
  readonly dir: string;
  readonly maxBytes: number;
  readonly contentTypes: readonly string[];
  readonly ttlMs: number;
}

/** An S3-compatible service (uploads now, backups later): endpoint, region and credentials. */
export interface S3Config {
  readonly endpoint: string | undefined;
  readonly region: string;
  readonly accessKeyId: string | undefined;
  readonly secretAccessKey: string | undefined;
  readonly forcePathStyle: boolean;
}

/**
 * Media types a browser runs, renders as a document, or sniffs: HTML, any XML (SVG, XHTML, XSLT, feeds:
 * every `+xml`), any script type or alias, CSS, multipart, and the "unknown" types browsers sniff.
 * Files are served from Bulwark's own origin by the local store and from the bucket's by S3, so one of
 * these would be stored cross-site scripting whatever the allowlist says: refused by pattern, not by a
 * list of names an alias slips past. Office documents, calendars, subtitles and the like are not.
 */
const ACTIVE =
  /^(multipart\/.*|[^/]+\/[^/]*\+xml|[^/]+\/(xml|html|xhtml|xsl|xslt|css|x-?sgml)|[^/]+\/[^/]*(java|ecma|j|live|vb)script[^/]*|application\/unknown|unknown\/unknown|[^/]+\/\*)$/;
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/;

export function parseUploads(
  read: VarReader,
  dataDir: string,
  production: boolean,
): { uploads: UploadConfig; s3: S3Config } {
  const problems = read.problems;
  const contentTypes = read.list("UPLOAD_CONTENT_TYPES").map((t) => t.toLowerCase());
  for (const t of contentTypes) {
    if (!MEDIA_TYPE.test(t)) problems.push(`UPLOAD_CONTENT_TYPES: "${t}" is not a media type (type/subtype)`);
    else if (ACTIVE.test(t))
      problems.push(
        `UPLOAD_CONTENT_TYPES: "${t}" is a type a browser runs or renders as a page; it cannot be allowed`,
      );
  }
  const bucket = read.str("UPLOAD_BUCKET");
  if (bucket !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
    problems.push(`UPLOAD_BUCKET: "${bucket}" is not an S3 bucket name`);
  const accessKeyId = read.str("S3_ACCESS_KEY_ID");
  const secretAccessKey = read.str("S3_SECRET_ACCESS_KEY");
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined))
    problems.push(
      "S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY: set both, or neither (the AWS SDK's default chain)",
    );
  const endpoint = read.url("S3_ENDPOINT", ["https:", "http:"]);
  if (production && endpoint?.startsWith("http:"))
    problems.push("S3_ENDPOINT: must be https in production (links and credentials cross it)");
  return {
    uploads: {
      store: bucket ? { kind: "s3", bucket } : { kind: "local" },
      dir: resolve(read.str("UPLOAD_DIR") ?? join(dataDir, "uploads")),
      maxBytes: read.int("UPLOAD_MAX_BYTES"),
      contentTypes,
      ttlMs: read.int("UPLOAD_URL_TTL_SECONDS") * 1000,
    },
    s3: {
      endpoint,
      region: read.str("S3_REGION") ?? "us-east-1",
      accessKeyId,
      secretAccessKey,
      forcePathStyle: read.bool("S3_FORCE_PATH_STYLE"),
    },
  };
}
