import { S3Client } from "@aws-sdk/client-s3";
import type { S3Config } from "../config/uploads.js";

/**
 * A client for the configured S3-compatible service (uploads, backups). Request checksums only where S3
 * requires them: a pre-signed link must not be bound to a checksum of an empty body, and S3-compatible
 * servers that predate flexible checksums refuse the extra headers.
 */
export function s3Client(config: S3Config): S3Client {
  return new S3Client({
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    // Bounded waits: an unreachable or silent S3 fails a request within seconds instead of holding its
    // socket (and, once the pool is full, every later request) for ever. requestTimeout is the socket's
    // idle time, so a large upload that keeps moving is not cut.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000 },
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(config.accessKeyId && config.secretAccessKey
      ? { credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } }
      : {}),
  });
}

/** The HTTP status of an S3 error (404 for a missing object), if it has one. */
export const s3Status = (err: unknown): number | undefined =>
  (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
