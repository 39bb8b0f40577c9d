import { ApiError, api } from "./api.js";

/**
 * The local store's links name the server's public address; the console is served by that same server,
 * so it uses them as paths (same origin, whatever host name the browser used). S3 links stay whole.
 */
export function onThisServer(url: string): string {
  const u = new URL(url, location.href);
  return u.pathname.startsWith("/v1/storage/") ? u.pathname + u.search : url;
}

/**
 * Sends a file the way DATA-3 means: the API hands out a link bound to this organisation, the file's type
 * and its exact size, and the browser PUTs the bytes straight to storage. Resolves to the upload's id,
 * which a product (or any of the app's rows) then names.
 */
export async function uploadFile(orgId: string, file: File): Promise<string> {
  const link = await api<{ upload: { id: string }; url: string; headers: Record<string, string> }>(
    "POST",
    `/v1/orgs/${orgId}/uploads`,
    { contentType: file.type || "application/octet-stream", size: file.size },
  );
  let res: Response;
  try {
    res = await fetch(onThisServer(link.url), { method: "PUT", headers: link.headers, body: file });
  } catch {
    throw new ApiError(0, "NETWORK", "The file could not be sent to storage. Check your connection.");
  }
  if (!res.ok) throw new ApiError(res.status, "UPLOAD_FAILED", `Storage refused the file (${res.status}).`);
  return link.upload.id;
}
