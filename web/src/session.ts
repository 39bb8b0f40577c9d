import { useEffect, useState } from "preact/hooks";
import { api, setCsrf } from "./api.js";

export interface User {
  readonly id: string;
  readonly email: string;
  readonly name: string | null;
  readonly emailVerified: boolean;
}
export interface Me {
  readonly user: User;
  readonly session: { readonly id: string; readonly expiresAt: string };
  readonly impersonation: { readonly adminId: string; readonly expiresAt: string } | null;
  readonly csrfToken: string;
}
export interface AdminMe {
  readonly admin: { readonly id: string; readonly email: string };
  readonly impersonation: {
    readonly userId: string;
    readonly userEmail: string;
    readonly expiresAt: string;
  } | null;
  readonly csrfToken: string;
}

/**
 * Who is signed in, per surface, as the server says (`GET /v1/me`, `GET /v1/admin/me`): undefined while
 * asking, null when signed out. Each surface has its own cookie (AUTH-6), so each is asked separately.
 * A failure to ask (the server unreachable) counts as signed out: the sign-in form then says what fails.
 */
type State<T> = T | null | undefined;
const state: { me: State<Me>; admin: State<AdminMe> } = { me: undefined, admin: undefined };
const listeners = new Set<() => void>();
const emit = () => {
  for (const l of listeners) l();
};

/** Asks a surface's session route, which answers `signedIn: false` rather than an error when no one is. */
async function ask<T>(path: string): Promise<T | null> {
  const r = await api<({ signedIn: true } & T) | { signedIn: false }>("GET", path);
  return r.signedIn ? r : null;
}

export async function refreshMe(): Promise<Me | null> {
  state.me = await ask<Me>("/v1/auth/session").catch(() => null);
  setCsrf("portal", state.me?.csrfToken);
  emit();
  return state.me;
}

export async function refreshAdmin(): Promise<AdminMe | null> {
  state.admin = await ask<AdminMe>("/v1/admin/auth/session").catch(() => null);
  setCsrf("admin", state.admin?.csrfToken);
  emit();
  return state.admin;
}

export function signedOut(surface: "portal" | "admin"): void {
  if (surface === "portal") state.me = null;
  else state.admin = null;
  setCsrf(surface, undefined);
  emit();
}

function useStore<T>(read: () => T, load: () => Promise<unknown>): T {
  const [, tick] = useState(0);
  useEffect(() => {
    const l = () => tick((n) => n + 1);
    listeners.add(l);
    if (read() === undefined) load().catch(() => undefined);
    return () => listeners.delete(l);
  }, []);
  return read();
}

export const useMe = (): State<Me> => useStore(() => state.me, refreshMe);
export const useAdmin = (): State<AdminMe> => useStore(() => state.admin, refreshAdmin);
