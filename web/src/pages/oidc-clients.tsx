import { useRef, useState } from "preact/hooks";
import { api } from "../api.js";
import { str } from "../fields.js";
import {
  ConfirmButton,
  Field,
  Form,
  Loading,
  Notice,
  Page,
  Select,
  ShownOnce,
  TextArea,
  useLoad,
} from "../ui.js";
import { isManager, type Org } from "./orgs.js";

/** A client as the API shows it (src/oidc/plugin.ts): never its secret. */
interface Client {
  id: string;
  name: string;
  type: "confidential" | "public";
  redirectUris: string[];
  postLogoutRedirectUris: string[];
}
interface WithSecret {
  client: Client;
  clientSecret: string | null;
}

const lines = (d: FormData, k: string) => [...new Set(str(d, k).split(/\s+/).filter(Boolean))];
const body = (d: FormData) => ({
  name: str(d, "name").trim(),
  redirectUris: lines(d, "redirectUris"),
  postLogoutRedirectUris: lines(d, "postLogoutRedirectUris"),
});

/**
 * An organisation's OpenID Connect clients (AUTH-10): the apps that sign its members in through Bulwark.
 * Register one (a confidential client's secret is shown once), change its addresses, rotate its secret,
 * delete it. Managers only (`oidc:manage`); anyone else who follows a link here is told so.
 */
export function OidcClients(props: { org: Org }) {
  if (!isManager(props.org))
    return (
      <Page title={`${props.org.name}: sign-in apps`}>
        <p class="muted">Only owners and admins manage this organisation's sign-in apps.</p>
      </Page>
    );
  return <ManageClients org={props.org} />;
}

function ManageClients(props: { org: Org }) {
  const { org } = props;
  const base = `/v1/orgs/${org.id}/oidc-clients`;
  const list = useLoad(() => api<{ clients: Client[] }>("GET", base), [base]);
  const [shown, setShown] = useState<WithSecret | null>(null);
  const [message, setMessage] = useState("");
  const heading = useRef<HTMLHeadingElement>(null);
  const done = (m: string, deleted = false) => {
    setMessage(m);
    list.reload();
    // The row and its buttons are gone: the list's heading takes the focus rather than the page.
    if (deleted) heading.current?.focus();
  };
  const clients = list.data?.clients ?? [];
  return (
    <Page
      title={`${org.name}: sign-in apps`}
      lead="Apps that sign this organisation's members in with Bulwark, through OpenID Connect. Only members of this organisation can sign in to them."
    >
      <p class="muted">
        Point your app's OpenID Connect library at the issuer <code>{location.origin}</code> (discovery:{" "}
        <code>{`${location.origin}/.well-known/openid-configuration`}</code>). It must use the authorization
        code flow with PKCE (S256).
      </p>
      {shown?.clientSecret ? (
        <ShownOnce
          id="client-secret-title"
          title={`Client secret of ${shown.client.name}`}
          secret={shown.clientSecret}
          noun="secret"
          testId="client-secret"
          warning="Your app's server needs it to redeem sign-in codes. If it is lost, rotate the secret."
          onDone={() => {
            setShown(null);
            heading.current?.focus();
          }}
        >
          <p class="muted">
            Client ID: <code>{shown.client.id}</code>
          </p>
        </ShownOnce>
      ) : null}
      {message ? <Notice kind="ok">{message}</Notice> : null}
      <h2 tabIndex={-1} ref={heading}>
        Apps
      </h2>
      {list.error ? <Notice kind="error">{list.error}</Notice> : null}
      {!list.data && !list.error ? <Loading /> : null}
      {list.data && !clients.length ? <p class="muted">No apps yet: register one under New app.</p> : null}
      <ul class="rows" aria-label="Sign-in apps">
        {clients.map((c) => (
          <ClientRow
            key={c.id}
            c={c}
            url={`${base}/${c.id}`}
            onRotated={(made) => {
              setMessage("");
              setShown(made);
            }}
            onDone={done}
          />
        ))}
      </ul>
      <h2>New app</h2>
      <div class="card">
        <Form
          submit="Register app"
          label="New sign-in app"
          resetOnSuccess
          onSubmit={async (d) => {
            const made = await api<WithSecret>("POST", base, { ...body(d), type: str(d, "type") });
            setMessage(
              made.clientSecret
                ? ""
                : `${made.client.name} is registered. Its client ID is ${made.client.id}.`,
            );
            setShown(made.clientSecret ? made : null);
            list.reload();
          }}
        >
          <Select
            name="type"
            label="Kind of app"
            options={["confidential", "public"]}
            labels={{
              confidential: "A server (keeps a secret)",
              public: "A browser or mobile app (no secret; PKCE only)",
            }}
          />
          <ClientFields />
        </Form>
      </div>
    </Page>
  );
}

function ClientFields(props: { c?: Client }) {
  return (
    <>
      <Field
        name="name"
        label="Name"
        required
        maxLength={100}
        autoComplete="off"
        defaultValue={props.c?.name}
        hint="Shown to people when they sign in: “Billing portal”."
      />
      <TextArea
        name="redirectUris"
        label="Redirect URIs"
        rows={2}
        placeholder="https://app.example.org/callback"
        defaultValue={props.c?.redirectUris.join("\n")}
        hint="One per line, exactly as your app sends them: https, or http to localhost only."
      />
      <TextArea
        name="postLogoutRedirectUris"
        label="Sign-out return addresses (optional)"
        rows={2}
        placeholder="https://app.example.org/"
        defaultValue={props.c?.postLogoutRedirectUris.join("\n")}
        hint="Where people may go back to after signing out through Bulwark."
      />
    </>
  );
}

function ClientRow(props: {
  c: Client;
  url: string;
  onRotated: (made: WithSecret) => void;
  onDone: (message: string, deleted?: boolean) => void;
}) {
  const { c, url } = props;
  const [editing, setEditing] = useState(false);
  const editButton = useRef<HTMLButtonElement>(null);
  return (
    <li class="row">
      <div>
        <strong>{c.name}</strong>
        <span class="badge">{c.type === "confidential" ? "Server" : "Browser or mobile"}</span>
        <p class="muted">
          Client ID: <code>{c.id}</code>
        </p>
        <ul class="chips" aria-label={`Redirect URIs of ${c.name}`}>
          {c.redirectUris.map((u) => (
            <li key={u}>
              <code>{u}</code>
            </li>
          ))}
        </ul>
      </div>
      <div class="row-actions">
        <button
          type="button"
          class="small"
          ref={editButton}
          aria-expanded={editing}
          aria-controls={`edit-${c.id}`}
          onClick={() => setEditing(!editing)}
        >
          {editing ? "Cancel edit" : "Edit"}
        </button>
        {c.type === "confidential" ? (
          <ConfirmButton
            small
            tone="plain"
            label="Rotate secret"
            title={`Rotate the secret of ${c.name}?`}
            confirm="Rotate secret"
            onConfirm={async () => props.onRotated(await api<WithSecret>("POST", `${url}/rotate-secret`, {}))}
          >
            <p>The current secret stops working at once: your app needs the new one right away.</p>
          </ConfirmButton>
        ) : null}
        <ConfirmButton
          small
          label="Delete"
          title={`Delete ${c.name}?`}
          confirm="Delete app"
          onConfirm={async () => {
            await api("DELETE", url);
            props.onDone(`${c.name} was deleted.`, true);
          }}
        >
          <p>People can no longer sign in to it, and its tokens stop working. This cannot be undone.</p>
        </ConfirmButton>
      </div>
      {editing ? (
        <section class="detail" id={`edit-${c.id}`} aria-label={`Edit ${c.name}`}>
          <Form
            submit="Save changes"
            label={`Edit ${c.name}`}
            onSubmit={async (d) => {
              const saved = await api<Client>("PATCH", url, body(d));
              setEditing(false);
              editButton.current?.focus();
              props.onDone(`${saved.name} was saved.`);
            }}
          >
            <ClientFields c={c} />
          </Form>
        </section>
      ) : null}
    </li>
  );
}
