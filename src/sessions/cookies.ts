import type { Config } from "../config/load.js";
import type { SessionRow } from "./tables.js";

/**
 * Cookie names per surface (AUTH-6): portal and admin sessions never share a cookie. The `__Host-`
 * prefix (Secure, Path=/, no Domain: the browser refuses it from any other host) is used whenever the
 * public URL is https, which production requires.
 */
export function cookieName(config: Config, kind: SessionRow["kind"]): string {
  const base = kind === "admin" ? "bulwark_admin" : "bulwark_session";
  return secure(config) ? `__Host-${base}` : base;
}

/** Whether cookies are Secure (and `__Host-`/`__Secure-` prefixed): production, or an https public URL. */
export const secure = (config: Config): boolean =>
  config.production || config.publicUrl.startsWith("https://");

/** Set-Cookie for a new session: HttpOnly, SameSite=Lax, Secure where possible, lasting the absolute lifetime. */
export function sessionCookie(config: Config, kind: SessionRow["kind"], token: string): string {
  const maxAge = Math.floor(config.auth.sessionAbsoluteMs / 1000);
  return `${cookieName(config, kind)}=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${secure(config) ? "; Secure" : ""}`;
}

export function clearCookie(config: Config, kind: SessionRow["kind"]): string {
  return `${cookieName(config, kind)}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${secure(config) ? "; Secure" : ""}`;
}

/** The value of one cookie in a Cookie header, or undefined. Values are our own base64url tokens. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{1,200}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}
