import { useState } from "preact/hooks";
import { api, withQuery } from "../api.js";
import { EmailField, str } from "../fields.js";
import { describe } from "../messages.js";
import { PagedRows, usePaged } from "../paged.js";
import type { Me } from "../session.js";
import { ConfirmButton, Form, InlineError, Notice, Page, Select, when } from "../ui.js";
import type { Org, Role } from "./orgs.js";

const ROLES: Role[] = ["OWNER", "ADMIN", "MEMBER", "VIEWER"];
interface Member {
  userId: string;
  email: string;
  role: Role;
  joinedAt: string;
}
interface Invitation {
  id: string;
  email: string;
  role: Role;
  expiresAt: string;
}

function RoleEditor(props: { org: Org; member: Member; onChanged: (message: string) => void }) {
  const [role, setRole] = useState<Role>(props.member.role);
  const [error, setError] = useState("");
  const changed = role !== props.member.role;
  return (
    <form
      class="inline"
      aria-label={`Change the role of ${props.member.email}`}
      onSubmit={async (e) => {
        e.preventDefault();
        setError("");
        try {
          await api("PATCH", `/v1/orgs/${props.org.id}/members/${props.member.userId}`, { role });
          props.onChanged(`${props.member.email} is now ${role.toLowerCase()}.`);
        } catch (err) {
          setError(describe(err));
        }
      }}
    >
      <Select
        name="role"
        label={`Role of ${props.member.email}`}
        options={ROLES}
        value={role}
        onChange={(v) => setRole(v as Role)}
      />
      <button type="submit" class="small" disabled={!changed}>
        Save role
      </button>
      <InlineError error={error} />
    </form>
  );
}

/**
 * Members (AUTHZ-1, AUTHZ-5): roles and removal. Owners are the only ones who make owners, and the last
 * owner can neither leave nor be demoted; the server enforces it, the screen says it up front.
 */
export function Members(props: { org: Org; me: Me }) {
  const { org } = props;
  const [message, setMessage] = useState("");
  const list = usePaged<Member>(
    "members",
    (after) => `/v1/orgs/${org.id}/members?limit=50${after ? `&after=${after}` : ""}`,
    [org.id],
  );
  const manage = org.role === "OWNER" || org.role === "ADMIN";
  const done = (m: string) => {
    setMessage(m);
    list.reload();
  };
  return (
    <Page title={`${org.name}: members`}>
      <p class="muted">
        Only an owner can make another owner. The last owner cannot leave or be demoted: make someone else
        owner first.
      </p>
      {message ? <Notice kind="ok">{message}</Notice> : null}
      <PagedRows
        list={list}
        label="Members"
        row={(m) => (
          <li key={m.userId} class="row">
            <div>
              <strong>{m.email}</strong>
              {m.userId === props.me.user.id ? <span class="badge">You</span> : null}
              <p class="muted">
                {m.role.toLowerCase()} · joined {when(m.joinedAt)}
              </p>
            </div>
            {manage && m.userId !== props.me.user.id ? (
              <div class="row-actions">
                <RoleEditor org={org} member={m} onChanged={done} />
                <ConfirmButton
                  small
                  label="Remove"
                  title={`Remove ${m.email}?`}
                  confirm="Remove member"
                  onConfirm={async () => {
                    await api("DELETE", `/v1/orgs/${org.id}/members/${m.userId}`);
                    done(`${m.email} was removed.`);
                  }}
                >
                  <p>They lose access to {org.name} at once.</p>
                </ConfirmButton>
              </div>
            ) : null}
          </li>
        )}
      />
    </Page>
  );
}

/** Invitations (AUTHZ-5): send, resend, revoke; the pending list. */
export function Invitations(props: { org: Org }) {
  const { org } = props;
  const [message, setMessage] = useState("");
  const list = usePaged<Invitation>(
    "invitations",
    (after) => withQuery(`/v1/orgs/${org.id}/invitations`, { limit: 50, after }),
    [org.id],
  );
  const done = (m: string) => {
    setMessage(m);
    list.reload();
  };
  return (
    <Page title={`${org.name}: invitations`}>
      {message ? <Notice kind="ok">{message}</Notice> : null}
      <h2>Invite someone</h2>
      <div class="card">
        <Form
          submit="Send invitation"
          label="Invite someone"
          resetOnSuccess
          onSubmit={async (d) => {
            const r = await api<{ invitation: Invitation }>("POST", `/v1/orgs/${org.id}/invitations`, {
              email: str(d, "email"),
              role: str(d, "role"),
            });
            done(`An invitation is on its way to ${r.invitation.email}.`);
          }}
        >
          <EmailField autoComplete="off" />
          <Select name="role" label="Role" options={ROLES} value="MEMBER" />
        </Form>
      </div>
      <h2>Pending</h2>
      <PagedRows
        list={list}
        label="Pending invitations"
        empty="No pending invitations."
        row={(i) => (
          <li key={i.id} class="row">
            <div>
              <strong>{i.email}</strong>
              <p class="muted">
                {i.role.toLowerCase()} · expires {when(i.expiresAt)}
              </p>
            </div>
            <div class="row-actions">
              <ResendButton
                onResend={async () => {
                  await api("POST", `/v1/orgs/${org.id}/invitations/${i.id}/resend`);
                  done(`The invitation to ${i.email} was sent again.`);
                }}
              />
              <ConfirmButton
                small
                label="Revoke"
                title={`Revoke the invitation to ${i.email}?`}
                confirm="Revoke"
                onConfirm={async () => {
                  await api("DELETE", `/v1/orgs/${org.id}/invitations/${i.id}`);
                  done(`The invitation to ${i.email} was revoked.`);
                }}
              >
                <p>The link in their mail stops working.</p>
              </ConfirmButton>
            </div>
          </li>
        )}
      />
    </Page>
  );
}

function ResendButton(props: { onResend: () => Promise<void> }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  return (
    <>
      <button
        type="button"
        class="small"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          setError("");
          try {
            await props.onResend();
          } catch (err) {
            setError(describe(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        Resend
      </button>
      <InlineError error={error} />
    </>
  );
}
