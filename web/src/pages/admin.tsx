import { useState } from "preact/hooks";
import { api, withQuery } from "../api.js";
import { SignInFields, str } from "../fields.js";
import { PagedRows, usePaged } from "../paged.js";
import { navigate, useLocation } from "../router.js";
import { refreshAdmin, refreshMe } from "../session.js";
import { Field, Form, Loading, Notice, Page, useLoad, when } from "../ui.js";

interface AdminUser {
  id: string;
  email: string;
  emailVerified: boolean;
  createdAt: string;
}
interface AdminOrg {
  id: string;
  name: string;
  slug: string;
  members: number;
  createdAt: string;
}

/** The platform admins' own sign-in (AUTH-6): its own address, its own cookie, password and TOTP together. */
export function AdminSignIn() {
  return (
    <Page
      title="Platform admin sign-in"
      lead="For Bulwark's operators. Tenant users sign in on the main page."
      narrow
    >
      <Form
        submit="Sign in"
        onSubmit={async (d) => {
          const code = str(d, "code").replaceAll(" ", "");
          await api("POST", "/v1/admin/auth/login", {
            email: str(d, "email"),
            password: str(d, "password"),
            ...(code ? { code } : {}),
          });
          await refreshAdmin();
          navigate("/admin/users");
        }}
      >
        <SignInFields />
        <Field
          name="code"
          label="Authenticator code"
          autoComplete="one-time-code"
          minLength={6}
          maxLength={16}
          hint="Required when your admin account has two-factor authentication (always, in production)."
        />
      </Form>
    </Page>
  );
}

/** A search box bound to `?q=`: the query stays in the address, so a search can be shared or reloaded. */
function Search(props: { label: string; placeholder: string }) {
  const { path, query } = useLocation();
  return (
    <form
      class="search"
      aria-label="Search"
      onSubmit={(e) => {
        e.preventDefault();
        const q = str(new FormData(e.currentTarget), "q").trim();
        navigate(withQuery(path, { q }));
      }}
    >
      <label for="q">{props.label}</label>
      <input
        id="q"
        name="q"
        type="search"
        value={query.get("q") ?? ""}
        placeholder={props.placeholder}
        maxLength={254}
      />
      <button type="submit">Search</button>
    </form>
  );
}

/** Impersonation (AUTHZ-4): a reason and a duration, then the portal as the user, under the banner. */
function Impersonate(props: { user: AdminUser; onCancel: () => void }) {
  return (
    <div class="card">
      <h3>Impersonate {props.user.email}</h3>
      <p>
        You will see the portal as this user. Credentials, second factors and memberships stay out of reach,
        and the start and stop are recorded with your identity.
      </p>
      <Form
        submit="Start impersonating"
        onSubmit={async (d) => {
          await api("POST", "/v1/admin/impersonations", {
            userId: props.user.id,
            reason: str(d, "reason"),
            minutes: Number(str(d, "minutes")),
          });
          await refreshMe();
          navigate("/app");
        }}
      >
        <Field
          name="reason"
          label="Reason (recorded)"
          required
          minLength={10}
          maxLength={500}
          placeholder="Support ticket #1234: cannot see invoices"
        />
        <Field name="minutes" label="Minutes" type="number" required min={1} max={60} value="30" />
      </Form>
      <div class="actions">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}

export function AdminUsers() {
  const q = useLocation().query.get("q") ?? "";
  const [target, setTarget] = useState<AdminUser | null>(null);
  const list = usePaged<AdminUser>(
    "users",
    (after) => withQuery("/v1/admin/users", { q, after, limit: 50 }),
    [q],
  );
  return (
    <Page title="Users">
      <Search label="Find users by email" placeholder="name@example.com" />
      {target ? <Impersonate user={target} onCancel={() => setTarget(null)} /> : null}
      <PagedRows
        list={list}
        label="Users"
        empty="No users match."
        row={(u) => (
          <li key={u.id} class="row">
            <div>
              <strong>{u.email}</strong>
              {u.emailVerified ? null : <span class="badge warn">unverified</span>}
              <p class="muted">
                {u.id} · since {when(u.createdAt)}
              </p>
            </div>
            <button
              type="button"
              class="small"
              onClick={() => setTarget(u)}
              aria-label={`Impersonate ${u.email}`}
            >
              Impersonate
            </button>
          </li>
        )}
      />
    </Page>
  );
}

export function AdminOrgs() {
  const q = useLocation().query.get("q") ?? "";
  const list = usePaged<AdminOrg>("orgs", (after) => withQuery("/v1/admin/orgs", { q, after, limit: 50 }), [
    q,
  ]);
  return (
    <Page title="Organisations">
      <Search label="Find organisations by name or short name" placeholder="acme" />
      <PagedRows
        list={list}
        label="Organisations"
        empty="No organisations match."
        row={(o) => (
          <li key={o.id} class="row">
            <div>
              <strong>{o.name}</strong>
              <p class="muted">
                {o.slug} · {o.members} member{o.members === 1 ? "" : "s"} · since {when(o.createdAt)}
              </p>
            </div>
            <a href={withQuery("/admin/audit", { log: o.id })} aria-label={`Audit log of ${o.name}`}>
              Audit log
            </a>
          </li>
        )}
      />
    </Page>
  );
}

interface JobRun {
  id: string;
  name: string;
  status: "running" | "succeeded" | "failed";
  startedAt: string;
  durationMs: number | null;
  rows: number | null;
  error: string | null;
  node: string;
}

const STATUS: Record<string, string> = { running: "warn", succeeded: "", failed: "bad" };

/** One run: the job, its outcome, when, how long, how much, where; why, if it failed. */
function RunRow(props: { run: JobRun }) {
  const r = props.run;
  return (
    <li class="row">
      <div>
        <strong>{r.name}</strong> <span class={`badge ${STATUS[r.status] ?? ""}`}>{r.status}</span>
        <p class="muted">
          {when(r.startedAt)}
          {r.durationMs === null ? "" : ` · ${r.durationMs} ms`}
          {r.rows === null ? "" : ` · ${r.rows} row${r.rows === 1 ? "" : "s"}`} · {r.node}
        </p>
        {r.error ? <p class="wrap">{r.error}</p> : null}
      </div>
    </li>
  );
}

/**
 * OBS-6: every background job's newest run first (a daily job never scrolls away behind hourly ones),
 * then the recent runs of all of them. A failed run says why; a run still `running` long after it
 * started is one whose process died.
 */
export function AdminJobs() {
  const latest = useLoad(() => api<{ items: JobRun[] }>("GET", "/v1/admin/jobs?latest=true"), []);
  const recent = useLoad(() => api<{ items: JobRun[] }>("GET", "/v1/admin/jobs?limit=50"), []);
  const section = (title: string, label: string, runs: typeof latest) => (
    <>
      <h2>{title}</h2>
      {runs.loading && !runs.data ? <Loading /> : null}
      {runs.error ? <Notice kind="error">{runs.error}</Notice> : null}
      {runs.data && runs.data.items.length === 0 ? <p class="muted">No job has run yet.</p> : null}
      {runs.data?.items.length ? (
        <ul class="rows" aria-label={label}>
          {runs.data.items.map((r) => (
            <RunRow key={r.id} run={r} />
          ))}
        </ul>
      ) : null}
    </>
  );
  return (
    <Page title="Background jobs" lead="The newest run of each background job, then the 50 most recent runs.">
      {section("Each job", "Latest run of each job", latest)}
      {section("Recent runs", "Job runs", recent)}
      <button
        type="button"
        disabled={latest.loading || recent.loading}
        onClick={() => {
          latest.reload();
          recent.reload();
        }}
      >
        {latest.loading || recent.loading ? "Refreshing…" : "Refresh"}
      </button>
    </Page>
  );
}
