import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api } from "./api.js";
import { describe } from "./messages.js";
import { navigate, useLocation } from "./router.js";
import { type Me, refreshAdmin, refreshMe, signedOut } from "./session.js";

function useNow(everyMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

const left = (ms: number) => {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
};

/**
 * The impersonation banner (AUTHZ-4): on every portal screen while a platform admin acts as the user,
 * with the time left and the way out. It cannot be dismissed; it goes when the impersonation ends.
 */
function ImpersonationBanner(props: { me: Me }) {
  const now = useNow(1000);
  const [error, setError] = useState("");
  const imp = props.me.impersonation;
  if (!imp) return null;
  const stop = async () => {
    setError("");
    try {
      // Stopping is the admin's act, recorded as such: with the admin session and its CSRF token. If that
      // session is gone, the impersonation session is ended from inside (a sign-out of it), never left on.
      if (await refreshAdmin()) await api("DELETE", "/v1/admin/impersonations/current");
      else await api("POST", "/v1/auth/logout");
      signedOut("portal");
      navigate("/admin/users");
    } catch (err) {
      setError(describe(err));
    }
  };
  return (
    <section class="banner" aria-label="Impersonation">
      <p>
        <strong>Impersonating {props.me.user.email}.</strong> Everything you do is recorded with your admin
        identity. <span class="timer">Ends in {left(Date.parse(imp.expiresAt) - now)}.</span>
      </p>
      <button type="button" onClick={stop}>
        Stop impersonating
      </button>
      {error ? <p role="alert">{error}</p> : null}
    </section>
  );
}

function NavLink(props: { href: string; children: ComponentChildren; exact?: boolean }) {
  const { path } = useLocation();
  const active = props.exact ? path === props.href : path === props.href || path.startsWith(`${props.href}/`);
  return (
    <a href={props.href} aria-current={active ? "page" : undefined}>
      {props.children}
    </a>
  );
}

/** The portal's frame: brand, navigation, the signed-in user, and the impersonation banner when there is one. */
export function PortalFrame(props: { me: Me; children: ComponentChildren }) {
  const [error, setError] = useState("");
  const signOut = async () => {
    setError("");
    try {
      await api("POST", "/v1/auth/logout");
      signedOut("portal");
      navigate("/");
    } catch (err) {
      // Never show "signed out" unless the server says so: ask again, and say what failed.
      if (!(await refreshMe())) navigate("/");
      else setError(describe(err));
    }
  };
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <ImpersonationBanner me={props.me} />
      <header class="top">
        <a class="brand" href="/app">
          Bulwark
        </a>
        <nav aria-label="Main">
          <NavLink href="/app" exact>
            Organisations
          </NavLink>
          <NavLink href="/app/account">Account</NavLink>
          <NavLink href="/app/sessions">Sessions</NavLink>
        </nav>
        <div class="who">
          <span class="email" title={props.me.user.email}>
            {props.me.user.name ?? props.me.user.email}
          </span>
          <button type="button" class="link" onClick={signOut}>
            Sign out
          </button>
        </div>
        {error ? (
          <p role="alert" class="field-error">
            {error}
          </p>
        ) : null}
      </header>
      <main id="main">{props.children}</main>
      <Footer />
    </>
  );
}

export function AdminFrame(props: { email: string; children: ComponentChildren }) {
  const [error, setError] = useState("");
  const signOut = async () => {
    setError("");
    try {
      await api("POST", "/v1/admin/auth/logout");
      signedOut("admin");
      signedOut("portal");
      navigate("/admin");
    } catch (err) {
      if (!(await refreshAdmin())) navigate("/admin");
      else setError(describe(err));
    }
  };
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top admin">
        <a class="brand" href="/admin">
          Bulwark <span class="tag">Platform admin</span>
        </a>
        <nav aria-label="Admin">
          <NavLink href="/admin/users">Users</NavLink>
          <NavLink href="/admin/orgs">Organisations</NavLink>
        </nav>
        <div class="who">
          <span class="email">{props.email}</span>
          <button type="button" class="link" onClick={signOut}>
            Sign out
          </button>
        </div>
        {error ? (
          <p role="alert" class="field-error">
            {error}
          </p>
        ) : null}
      </header>
      <main id="main">{props.children}</main>
      <Footer />
    </>
  );
}

/** The hosted pages' frame: a centred card under the brand. */
export function PublicFrame(props: { children: ComponentChildren }) {
  return (
    <>
      <header class="top public">
        <a class="brand" href="/">
          Bulwark
        </a>
      </header>
      <main id="main">{props.children}</main>
      <Footer />
    </>
  );
}

function Footer() {
  return (
    <footer class="foot">
      <a href="/security">How we protect your account</a>
      <a href="/docs">API</a>
    </footer>
  );
}
