import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { S3Config } from "../config/uploads.js";
import { s3Client, s3Status } from "../util/s3.js";
import type { ObjectStore, StoredObject } from "./objects.js";

/**
 * Uploads in an S3-compatible bucket, with links signed by the AWS SDK's presigner (SigV4). The PUT
 * link signs `content-type` and `content-length` as headers (the presigner leaves the type unsigned
 * unless told), so S3 refuses a body of another type or length with SignatureDoesNotMatch; the signing
 * time is Bulwark's clock, so the link's life is exactly the configured one.
 */
export class S3ObjectStore implements ObjectStore {
  readonly kind = "s3" as const;
  private readonly client: S3Client;

  constructor(
    config: S3Config,
    private readonly bucket: string,
  ) {
    this.client = s3Client(config);
  }

  putUrl(key: string, contentType: string, size: number, now: number, expiresAt: number): Promise<string> {
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ContentType: contentType,
      ContentLength: size,
    });
    return getSignedUrl(this.client, command, {
      signingDate: new Date(now),
      expiresIn: Math.floor((expiresAt - now) / 1000),
      signableHeaders: new Set(["content-type", "content-length"]),
    });
  }

  getUrl(key: string, contentType: string, now: number, expiresAt: number): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ResponseContentType: contentType,
      // As the local store: only pictures, sound, video and PDF are shown in place.
      ResponseContentDisposition: /^(image|audio|video)\/|^application\/pdf$/.test(contentType)
        ? "inline"
        : "attachment",
    });
    return getSignedUrl(this.client, command, {
      signingDate: new Date(now),
      expiresIn: Math.floor((expiresAt - now) / 1000),
    });
  }

  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: Number(out.ContentLength ?? 0), contentType: out.ContentType ?? "" };
    } catch (err) {
      // Without s3:ListBucket, S3 answers a missing key with 403 rather than 404.
      const status = s3Status(err);
      if (status === 404 || status === 403) return undefined;
      throw err;
    }
  }

  async keep(key: string, kept: string): Promise<void> {
    // A copy inside the bucket (the body never passes through Bulwark), then the upload's own key goes.
    await this.client.send(
      new CopyObjectCommand({
        Bucket: this.bucket,
        Key: kept,
        CopySource: `${this.bucket}/${key.split("/").map(encodeURIComponent).join("/")}`,
      }),
    );
    await this.remove(key);
  }

  async remove(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  close(): void {
    this.client.destroy();
  }
}
