import { mkdtempSync, rmSync } from "node:fs";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import { presignedProblem } from "./sigv4.js";

export interface LocalS3 {
  /** The endpoint to configure (S3_ENDPOINT): the SigV4 check in front of s3rver. */
  readonly endpoint: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Requests the check refused, with the S3 error code. */
  readonly refused: string[];
  close(): Promise<void>;
}

const S3_ERROR = (code: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>refused</Message></Error>`;

/**
 * A real S3-compatible server in-process: s3rver (storage, expiry of pre-signed links), behind a check
 * of every pre-signed request's V4 signature (test/sigv4.ts), which s3rver skips, so a body with another
 * type or length than the link was signed for is refused as S3 refuses it. Header-signed requests (the
 * server's own HEAD and DELETE through the AWS SDK) pass through.
 */
export async function startS3(
  bucket = "uploads",
  /** Origins the bucket's CORS rule admits for PUT and GET (a browser uploading from the console). */
  corsOrigins: readonly string[] = [],
): Promise<LocalS3> {
  const cors = corsOrigins.length
    ? [
        `<CORSConfiguration><CORSRule>${corsOrigins.map((o) => `<AllowedOrigin>${o}</AllowedOrigin>`).join("")}<AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedHeader>*</AllowedHeader><MaxAgeSeconds>60</MaxAgeSeconds></CORSRule></CORSConfiguration>`,
      ]
    : [];
  const dir = mkdtempSync(join(tmpdir(), "bulwark-s3-"));
  const s3 = new S3rver({
    port: 0,
    address: "127.0.0.1",
    silent: true,
    directory: dir,
    configureBuckets: [{ name: bucket, configs: cors }],
  });
  const { port } = (await s3.run()) as unknown as AddressInfo;
  const secrets = { S3RVER: "S3RVER" };
  const refused: string[] = [];
  const front = createServer((req, res) => {
    const path = req.url ?? "/";
    // A CORS preflight carries the link but no signature check (S3 answers it from the bucket's rule).
    if (req.method !== "OPTIONS" && path.includes("X-Amz-Algorithm=")) {
      const problem = presignedProblem(req.method ?? "GET", path, req.headers, secrets);
      if (problem) {
        refused.push(problem);
        req.resume();
        res.writeHead(403, { "content-type": "application/xml", connection: "close" });
        res.end(S3_ERROR(problem));
        return;
      }
    }
    const upstream = request(
      { host: "127.0.0.1", port, method: req.method, path, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(front.address() as AddressInfo).port}`,
    bucket,
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    refused,
    async close() {
      front.closeAllConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
      await s3.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
