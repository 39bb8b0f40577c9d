import { createReadStream, createWriteStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import type { S3Config } from "../config/uploads.js";
import { s3Client } from "../util/s3.js";
import { type BackupTarget, type StoredBackup, takenAt } from "./target.js";

/**
 * Backups kept in an S3-compatible bucket under a prefix (DATA-2). Each sealed file goes up in one PUT of
 * its exact length (S3 takes up to 5 GB that way), and the local copy is removed once the upload ended,
 * whether it succeeded or not: a failed upload fails the run (recorded), never fills BACKUP_DIR. What goes up
 * is already encrypted to BACKUP_RECIPIENTS: the bucket's own encryption is a second layer, not the one
 * relied on, and the bucket's credentials never open a backup.
 */
export class BucketTarget implements BackupTarget {
  private readonly client: S3Client;

  constructor(
    config: S3Config,
    private readonly bucket: string,
    private readonly prefix: string,
  ) {
    this.client = s3Client(config);
  }

  get where(): string {
    return `s3://${this.bucket}/${this.prefix}`;
  }

  async keep(file: string, name: string): Promise<string> {
    try {
      const { size } = await stat(file);
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + name,
          Body: createReadStream(file),
          ContentLength: size,
          ContentType: "application/octet-stream",
        }),
      );
      return `${this.where}${name}`;
    } finally {
      // Kept or not, the local copy goes: backups that failed to upload must not fill the disk (the run
      // is recorded as failed, and the next one takes a whole new backup).
      await rm(file, { force: true });
    }
  }

  async list(): Promise<StoredBackup[]> {
    const out: StoredBackup[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) {
        const name = (o.Key ?? "").slice(this.prefix.length);
        const at = takenAt(name);
        if (at !== undefined) out.push({ name, at });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => b.at - a.at);
  }

  async remove(name: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + name }));
  }

  async fetch(name: string, scratch: string): Promise<string> {
    const got = await this.client.send(
      new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + name }),
    );
    const dest = join(scratch, name);
    await pipeline(got.Body as Readable, createWriteStream(dest, { mode: 0o600 }));
    return dest;
  }
}
