/**
 * The console's only way to the server: Bulwark's public JSON API on this origin (the one /openapi.json
 * describes). The CSRF token of each surface lives in this module's memory only: never in storage, so a
 * script injected elsewhere cannot read it from there, and a reload fetches it again from `GET /v1/me`.
 */
export type Surface = "portal" | "admin";

export interface FieldError {
  readonly in: string;
  readonly field: string;
  readonly message: string;
}

/** An error answer of the API: its stable code, message, field errors and, for 429, when to retry. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: readonly FieldError[] = [],
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

const csrf: Record<Surface, string> = { portal: "", admin: "" };

export function setCsrf(surface: Surface, token: string | undefined): void {
  csrf[surface] = token ?? "";
}

const surfaceOf = (path: string): Surface => (path.startsWith("/v1/admin/") ? "admin" : "portal");

/**
 * Calls the API. Bodies are JSON; a 204 resolves to undefined; any other non-2xx rejects with ApiError
 * (a network failure too, as code NETWORK). Writes carry the surface's CSRF token. Tokens are set only
 * from each surface's own session route (session.ts): an answer that carries another surface's token
 * (starting an impersonation returns the portal session's) can never replace this surface's.
 */
export async function api<T = unknown>(
  method: "GET" | "POST" | "PATCH" | "DELETE",
  path: string,
  body?: unknown,
  surface: Surface = surfaceOf(path),
): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && csrf[surface]) headers["x-csrf-token"] = csrf[surface];
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "NETWORK", "The server could not be reached. Check your connection and try again.");
  }
  if (res.status === 204) return undefined as T;
  const json = (await res.json().catch(() => null)) as Record<string, unknown> | null;
  if (!res.ok) {
    const e = (json?.error ?? {}) as { code?: string; message?: string; details?: unknown };
    const retry = retryAfter(res.headers.get("retry-after"));
    throw new ApiError(
      res.status,
      e.code ?? `HTTP_${res.status}`,
      e.message ?? `The request failed (${res.status}).`,
      Array.isArray(e.details) ? (e.details as FieldError[]) : [],
      retry,
    );
  }
  return json as T;
}

/** Retry-After in whole seconds: delay-seconds (what Bulwark sends) or an HTTP date; undefined if neither. */
export function retryAfter(header: string | null, now: number = Date.now()): number | undefined {
  if (!header) return undefined;
  const s = /^\s*\d+\s*$/.test(header) ? Number(header) : Math.ceil((Date.parse(header) - now) / 1000);
  return Number.isFinite(s) && s > 0 ? s : undefined;
}

/** A path with query parameters; undefined and empty values are left out. */
export function withQuery(path: string, query: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query))
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
