import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, type Surface } from "./api.js";
import { describe } from "./messages.js";
import { navigate, useLocation } from "./router.js";
import { type Me, refreshAdmin, refreshMe, signedOut } from "./session.js";
import { InlineError } from "./ui.js";

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

/**
 * The signed-in frame of both surfaces: skip link, header (brand, navigation, who is signed in, sign-out),
 * the screen, the footer. Each surface brings its own session: what signing out calls, how to ask whether
 * the session is still there, and where to go once it is not.
 */
function Frame(props: {
  surface: Surface;
  home: string;
  tag?: string;
  navLabel: string;
  links: ReadonlyArray<{ href: string; label: string; exact?: boolean }>;
  who: string;
  whoTitle?: string;
  banner?: ComponentChildren;
  /** Ends the session on the server and forgets it here. */
  signOut: () => Promise<unknown>;
  /** Asks the server for the session again: null when there is none. */
  session: () => Promise<unknown>;
  after: string;
  children: ComponentChildren;
}) {
  const [error, setError] = useState("");
  const signOut = async () => {
    setError("");
    try {
      await props.signOut();
      navigate(props.after);
    } catch (err) {
      // Never show "signed out" unless the server says so: ask again, and say what failed.
      if (!(await props.session())) navigate(props.after);
      else setError(describe(err));
    }
  };
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      {props.banner}
      <header class={props.surface === "admin" ? "top admin" : "top"}>
        <a class="brand" href={props.home}>
          {props.tag ? (
            <>
              Bulwark <span class="tag">{props.tag}</span>
            </>
          ) : (
            "Bulwark"
          )}
        </a>
        <nav aria-label={props.navLabel}>
          {props.links.map((l) => (
            <NavLink key={l.href} href={l.href} exact={l.exact}>
              {l.label}
            </NavLink>
          ))}
        </nav>
        <div class="who">
          <span class="email" title={props.whoTitle}>
            {props.who}
          </span>
          <button type="button" class="link" onClick={signOut}>
            Sign out
          </button>
        </div>
        <InlineError error={error} />
      </header>
      <main id="main">{props.children}</main>
      <Footer />
    </>
  );
}

const PORTAL_LINKS = [
  { href: "/app", label: "Organisations", exact: true },
  { href: "/app/account", label: "Account" },
  { href: "/app/sessions", label: "Sessions" },
];
const ADMIN_LINKS = [
  { href: "/admin/users", label: "Users" },
  { href: "/admin/orgs", label: "Organisations" },
  { href: "/admin/audit", label: "Audit log" },
  { href: "/admin/jobs", label: "Jobs" },
];

/** The portal's frame: the signed-in user, and the impersonation banner when there is one. */
export function PortalFrame(props: { me: Me; children: ComponentChildren }) {
  return (
    <Frame
      surface="portal"
      home="/app"
      navLabel="Main"
      links={PORTAL_LINKS}
      who={props.me.user.name ?? props.me.user.email}
      whoTitle={props.me.user.email}
      banner={<ImpersonationBanner me={props.me} />}
      signOut={async () => {
        await api("POST", "/v1/auth/logout");
        signedOut("portal");
      }}
      session={refreshMe}
      after="/"
    >
      {props.children}
    </Frame>
  );
}

/** The platform console's frame. Signing out of it ends an impersonation too, so both surfaces are forgotten. */
export function AdminFrame(props: { email: string; children: ComponentChildren }) {
  return (
    <Frame
      surface="admin"
      home="/admin"
      tag="Platform admin"
      navLabel="Admin"
      links={ADMIN_LINKS}
      who={props.email}
      signOut={async () => {
        await api("POST", "/v1/admin/auth/logout");
        signedOut("admin");
        signedOut("portal");
      }}
      session={refreshAdmin}
      after="/admin"
    >
      {props.children}
    </Frame>
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
