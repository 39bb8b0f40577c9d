import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, withQuery } from "../api.js";
import { str, YourPasswordField } from "../fields.js";
import { PagedRows, usePaged } from "../paged.js";
import { navigate } from "../router.js";
import { ConfirmButton, Field, Form, Loading, Notice, Page, useLoad } from "../ui.js";

export type Role = "OWNER" | "ADMIN" | "MEMBER" | "VIEWER";
export interface Org {
  id: string;
  name: string;
  slug: string;
  requireMfa: boolean;
  role?: Role;
}

/**
 * Owners and admins: they change the settings, manage API keys (`apikeys:manage`) and webhooks
 * (`webhooks:manage`), and read the audit log (`audit:read`).
 */
export const isManager = (org: Org): boolean => org.role === "OWNER" || org.role === "ADMIN";

/** The user's organisations, and a new one. */
export function Orgs() {
  const list = usePaged<Org>("orgs", (after) => withQuery("/v1/orgs", { limit: 50, after }), []);
  return (
    <Page title="Organisations" lead="Each organisation's data is kept apart from every other's.">
      <PagedRows
        list={list}
        label="Your organisations"
        showLoading
        empty="You don't belong to an organisation yet. Create one, or accept an invitation."
        row={(o) => (
          <li key={o.id} class="row">
            <div>
              <a href={`/app/orgs/${o.id}`}>
                <strong>{o.name}</strong>
              </a>
              <p class="muted">
                {o.slug} · {o.role?.toLowerCase()}
                {o.requireMfa ? " · two-factor required" : ""}
              </p>
            </div>
          </li>
        )}
      />
      <h2>New organisation</h2>
      <div class="card">
        <Form
          submit="Create organisation"
          label="New organisation"
          onSubmit={async (d) => {
            const slug = str(d, "slug");
            const r = await api<{ org: Org }>("POST", "/v1/orgs", {
              name: str(d, "name"),
              ...(slug ? { slug } : {}),
            });
            navigate(`/app/orgs/${r.org.id}`);
          }}
        >
          <Field name="name" label="Name" required maxLength={100} />
          <Field
            name="slug"
            label="Short name (optional)"
            pattern="[a-z0-9]([a-z0-9\-]{0,46}[a-z0-9])?"
            hint="Lower-case letters, digits and dashes; made from the name when left empty."
          />
        </Form>
      </div>
    </Page>
  );
}

/**
 * Whether this server runs the example catalog (CATALOG_EXAMPLE, on in development, off in production):
 * asked once, by reading one product; a 404 from a route that does not exist means it is not there.
 */
let catalog: Promise<boolean> | undefined;
function hasCatalog(orgId: string): Promise<boolean> {
  catalog ??= api("GET", `/v1/orgs/${orgId}/products?limit=1`).then(
    () => true,
    (err) => !(err instanceof ApiError && err.status === 404),
  );
  return catalog;
}

/** Tabs of one organisation: each is its own address, so a link or a reload keeps the place. */
export function OrgTabs(props: { org: Org; current: string }) {
  const base = `/app/orgs/${props.org.id}`;
  const [withCatalog, setWithCatalog] = useState(false);
  const nav = useRef<HTMLElement>(null);
  useEffect(() => {
    hasCatalog(props.org.id).then(setWithCatalog);
  }, [props.org.id]);
  // On a phone the tabs scroll sideways: the current one is brought into view (sideways only, the page
  // itself stays where it is), so the place is never hidden.
  useEffect(() => {
    const n = nav.current;
    const a = n?.querySelector('[aria-current="page"]');
    if (!n || !a) return;
    const box = n.getBoundingClientRect();
    const tab = a.getBoundingClientRect();
    if (tab.right > box.right) n.scrollLeft += Math.ceil(tab.right - box.right);
    else if (tab.left < box.left) n.scrollLeft -= Math.ceil(box.left - tab.left);
  }, [props.current, withCatalog]);
  const tabs: Array<[string, string]> = [
    ["", "Settings"],
    ["/members", "Members"],
    ["/invitations", "Invitations"],
    ["/usage", "Usage"],
    ...(isManager(props.org)
      ? ([
          ["/api-keys", "API keys"],
          ["/webhooks", "Webhooks"],
          ["/sign-in-apps", "Sign-in apps"],
          ["/audit", "Audit log"],
        ] as Array<[string, string]>)
      : []),
    ...(withCatalog
      ? ([
          ["/products", "Products"],
          ["/orders", "Orders"],
        ] as Array<[string, string]>)
      : []),
  ];
  return (
    <nav class="tabs" ref={nav} aria-label={`${props.org.name} sections`}>
      {tabs.map(([path, label]) => (
        <a key={path} href={base + path} aria-current={props.current === path ? "page" : undefined}>
          {label}
        </a>
      ))}
    </nav>
  );
}

/** Loads one organisation for its screens; `render` receives it. */
export function WithOrg(props: {
  orgId: string;
  tab: string;
  render: (org: Org, reload: () => void) => preact.ComponentChildren;
}) {
  const org = useLoad(
    () => api<{ org: Org }>("GET", `/v1/orgs/${encodeURIComponent(props.orgId)}`),
    [props.orgId],
  );
  if (org.error)
    return (
      <Page title="Organisation">
        <Notice kind="error">{org.error}</Notice>
      </Page>
    );
  if (!org.data) return <Loading />;
  return (
    <>
      <OrgTabs org={org.data.org} current={props.tab} />
      {props.render(org.data.org, org.reload)}
    </>
  );
}

/** Settings (AUTH-8 for members): the name, and whether members need two-factor authentication. */
export function OrgSettings(props: { org: Org; reload: () => void }) {
  const { org } = props;
  const [saved, setSaved] = useState("");
  const canEdit = isManager(org);
  return (
    <Page title={org.name} lead={`Your role: ${org.role?.toLowerCase() ?? "member"}.`}>
      {saved ? <Notice kind="ok">{saved}</Notice> : null}
      {canEdit ? (
        <>
          <h2>Name</h2>
          <div class="card">
            <Form
              submit="Save name"
              label="Organisation name"
              onSubmit={async (d) => {
                await api("PATCH", `/v1/orgs/${org.id}`, { name: str(d, "name") });
                setSaved("Saved.");
                props.reload();
              }}
            >
              <Field name="name" label="Name" required maxLength={100} value={org.name} />
            </Form>
          </div>
          <h2>Two-factor authentication</h2>
          <div class="card">
            <p>
              {org.requireMfa
                ? "Members must use two-factor authentication to open this organisation's data."
                : "Members may open this organisation's data without two-factor authentication."}
            </p>
            <Form
              submit={org.requireMfa ? "Stop requiring two-factor" : "Require two-factor of every member"}
              danger={org.requireMfa}
              label="Two-factor requirement"
              onSubmit={async (d) => {
                // Lifting the requirement weakens every member's sign-in: the server wants an owner who
                // has just confirmed the password (AUTH-14), so the password is asked for here.
                if (org.requireMfa) await api("POST", "/v1/auth/reauth", { password: str(d, "password") });
                await api("PATCH", `/v1/orgs/${org.id}`, { requireMfa: !org.requireMfa });
                setSaved(
                  org.requireMfa
                    ? "Two-factor is no longer required."
                    : "Two-factor is now required of every member.",
                );
                props.reload();
              }}
            >
              {org.requireMfa ? <YourPasswordField /> : null}
            </Form>
          </div>
        </>
      ) : (
        <p class="muted">Only owners and admins change the settings.</p>
      )}
      <h2>Leave</h2>
      <div class="card">
        <p>You lose access to this organisation's data. An organisation keeps at least one owner.</p>
        <LeaveOrg org={org} />
      </div>
    </Page>
  );
}

function LeaveOrg(props: { org: Org }) {
  return (
    <ConfirmButton
      label="Leave organisation"
      title={`Leave ${props.org.name}?`}
      confirm="Leave"
      onConfirm={async () => {
        const me = await api<{ user: { id: string } }>("GET", "/v1/me");
        await api("DELETE", `/v1/orgs/${props.org.id}/members/${me.user.id}`);
        navigate("/app");
      }}
    >
      <p>To come back you will need a new invitation.</p>
    </ConfirmButton>
  );
}
