import { createHash, createHmac } from "node:crypto";

/**
 * An independent check of AWS Signature Version 4 query-string ("pre-signed") requests, written from
 * the AWS specification and checked against its published example (sigv4.test.ts). s3rver, the S3
 * server the upload tests run, does not check V4 signatures; this stands in front of it and refuses
 * what S3 refuses: a signature that does not match the method, path, query and signed headers the
 * request actually carries. Returns the S3 error code, or undefined when the request is genuine.
 */
export function presignedProblem(
  method: string,
  pathAndQuery: string,
  headers: Record<string, string | string[] | undefined>,
  secrets: Record<string, string>,
): string | undefined {
  const url = new URL(pathAndQuery, "http://placeholder");
  const q = url.searchParams;
  if (q.get("X-Amz-Algorithm") !== "AWS4-HMAC-SHA256") return "AuthorizationQueryParametersError";
  const credential = q.get("X-Amz-Credential") ?? "";
  const [accessKey, date, region, service, terminator] = credential.split("/");
  const secret = secrets[accessKey ?? ""];
  if (!secret) return "InvalidAccessKeyId";
  if (terminator !== "aws4_request") return "AuthorizationQueryParametersError";
  const amzDate = q.get("X-Amz-Date") ?? "";
  const signed = (q.get("X-Amz-SignedHeaders") ?? "").split(";");
  if (!signed.includes("host")) return "AuthorizationQueryParametersError";
  const query = [...q.entries()]
    .filter(([k]) => k !== "X-Amz-Signature")
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonicalHeaders = signed
    .map((h) => {
      const v = headers[h];
      return `${h}:${(Array.isArray(v) ? v.join(",") : (v ?? "")).trim().replace(/\s+/g, " ")}\n`;
    })
    .join("");
  const canonical = [
    method,
    url.pathname,
    query,
    canonicalHeaders,
    signed.join(";"),
    q.get("X-Amz-Content-Sha256") ?? "UNSIGNED-PAYLOAD",
  ].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonical)].join("\n");
  let key: Buffer = hmac(`AWS4${secret}`, date ?? "");
  for (const part of [region ?? "", service ?? "", "aws4_request"]) key = hmac(key, part);
  const signature = createHmac("sha256", key).update(toSign).digest("hex");
  return signature === q.get("X-Amz-Signature") ? undefined : "SignatureDoesNotMatch";
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();
const rfc3986 = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
