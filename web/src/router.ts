import { useEffect, useState } from "preact/hooks";

/**
 * A tiny history router: the console's addresses are real paths (`/app/orgs/…`), served by the same shell,
 * so a reload or a shared link lands on the same screen.
 */
const listeners = new Set<() => void>();

export function navigate(to: string, replace = false): void {
  if (to === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  for (const l of listeners) l();
}

window.addEventListener("popstate", () => {
  for (const l of listeners) l();
});

/** The current path and query; re-renders the caller on every navigation. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const [, tick] = useState(0);
  useEffect(() => {
    const l = () => tick((n) => n + 1);
    listeners.add(l);
    return () => listeners.delete(l);
  }, []);
  return { path: location.pathname.replace(/\/+$/, "") || "/", query: new URLSearchParams(location.search) };
}

/** Matches `/app/orgs/:orgId/members` against a path; returns the parameters or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split("/");
  const s = path.split("/");
  if (p.length !== s.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const part = p[i] as string;
    if (part.startsWith(":")) {
      try {
        params[part.slice(1)] = decodeURIComponent(s[i] as string);
      } catch {
        return null; // A malformed escape ("%E0") matches nothing: the screen says "not found".
      }
    } else if (part !== s[i]) return null;
  }
  return params;
}

import { safeNext as safeNextFrom } from "./next.js";

/** `?next=` made safe to follow on this origin (next.ts). */
export const safeNext = (value: string | null, fallback: string): string =>
  safeNextFrom(value, fallback, location.origin);

/** Same-origin links are followed without a page load; modified clicks keep the browser's behaviour. */
document.addEventListener("click", (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey)
    return;
  const a = (event.target as Element).closest?.("a");
  if (!a || a.target || a.hasAttribute("download") || a.origin !== location.origin) return;
  if (
    !/^\/(app|admin|signup|verify-email|forgot-password|reset-password|accept-invitation)?(\/|$|\?)/.test(
      a.pathname + a.search,
    )
  )
    return;
  event.preventDefault();
  navigate(a.pathname + a.search);
});
